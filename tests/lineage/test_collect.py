"""What a run used, read from real Dagster event logs: a re-execution still reports the input row
counts and review results of the steps its parent ran, and its own re-run checks win."""

from __future__ import annotations

import dagster as dg

from metricdag.lineage.collect import run_facts

DAY = "2024-06-03"
PARTITIONS = dg.DailyPartitionsDefinition(start_date="2024-06-01")
OTHER = dg.AssetKey(["other_metric", "review", "shared"])
SOURCE = dg.AssetKey(["m", "sourcing", "src"])
CALC = dg.AssetKey(["m", "metric_calculation", "calc"])


@dg.asset(key=OTHER, partitions_def=PARTITIONS)
def shared() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": 7})


@dg.asset(key=SOURCE, partitions_def=PARTITIONS)
def src() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": 5})


def calc_with(passed: bool):
    @dg.asset(key=CALC, deps=[SOURCE], partitions_def=PARTITIONS,
              check_specs=[dg.AssetCheckSpec("record_count", asset=CALC)])
    def calc():
        yield dg.MaterializeResult(metadata={"dagster/row_count": 3})
        yield dg.AssetCheckResult(check_name="record_count", passed=passed, description=f"passed={passed}")

    return calc


def test_a_chain_of_runs_reports_the_parents_inputs_and_the_latest_checks():
    with dg.instance_for_test() as instance:
        dg.materialize([shared], partition_key=DAY, instance=instance)  # another metric's run
        first = dg.materialize([src, calc_with(False)], partition_key=DAY, instance=instance, raise_on_error=False)
        again = dg.materialize([calc_with(True)], partition_key=DAY, instance=instance, selection=[CALC])

        facts = run_facts(instance, [again.run_id, first.run_id], {"src": SOURCE, "shared": OTHER}, CALC, DAY)

    assert facts.input_rows == {"shared": 7, "src": 5}  # src from the parent run, shared from its own run
    [check] = facts.review_results
    assert (check.check, check.passed, check.severity, check.description) == ("record_count", True, "ERROR", "passed=True")
