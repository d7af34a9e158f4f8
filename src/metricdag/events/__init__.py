"""Events: what starts a run besides the schedule (pipeline-configs/events.yaml)."""
