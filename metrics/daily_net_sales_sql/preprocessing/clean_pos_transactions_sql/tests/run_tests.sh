#!/usr/bin/env bash
# This node's snapshot test (see the project README, "Node tests"): catalog snapshots, a scratch
# schema, a diff report under reports/node-tests/. Needs the stack with snapshots published:
#   metricdag stack up && metricdag seed && metricdag snapshot bootstrap
set -euo pipefail
exec metricdag test-node "$(dirname "$0")/.." "$@"
