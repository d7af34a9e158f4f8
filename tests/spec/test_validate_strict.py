"""``validate --strict``: blocking checks new or changed since the accepted history must be backtested."""

from __future__ import annotations

from pathlib import Path

from metricdag.audit.models import BacktestRecord
from metricdag.audit.store import AuditStore
from metricdag.review.checks import CheckOutcome, check_names
from metricdag.review.gates import strict_problems
from metricdag.review.repository import check_hash, evaluation
from metricdag.settings import load_environment
from metricdag.spec.loader import load_metric
from metricdag.yamlio import parse_yaml

REPO = Path(__file__).resolve().parents[2]


def setup(tmp_path, skip: str | None = None):
    metric = load_metric(REPO / "metrics" / "daily_net_sales", REPO)
    env = load_environment("local", REPO)
    store = AuditStore(f"sqlite:///{tmp_path}/a.db")
    review = next(r for r in metric.spec.review if r.dataset == "net_sales_daily")
    for day in ("2024-06-01", "2024-06-02"):
        for name, check in check_names(review):
            if name != skip:
                store.record_evaluation(evaluation(
                    environment=env.name, metric=metric.name, dataset=review.dataset, name=name, check=check,
                    partition=day, run_id=f"run-{day}", outcome=CheckOutcome(True, "ok"), severity="error",
                    metric_version="v",
                ))
        store.record_acceptance(environment=env.name, metric=metric.name, dataset=review.dataset, partition=day,
                                run_id=f"run-{day}")
    return metric, env, store, parse_yaml(metric.path.read_text(), metric.path), dict(check_names(review))


def test_checks_that_ran_on_every_accepted_day_need_no_backtest(tmp_path):
    metric, env, store, tree, _ = setup(tmp_path)
    assert strict_problems(metric, tree, env, store) == []


def test_a_check_never_run_over_the_accepted_days_needs_one_at_its_line(tmp_path):
    metric, env, store, tree, checks = setup(tmp_path, skip="variance")

    [problem] = strict_problems(metric, tree, env, store)

    line = next(n for n, t in enumerate(metric.path.read_text().splitlines(), 1) if "- type: variance" in t)
    assert (problem.path, problem.line) == (str(metric.path), line)
    assert "blocking check 'variance' of 'net_sales_daily' has no backtest" in problem.message
    assert "metricdag review backtest daily_net_sales --dataset net_sales_daily --check variance" in problem.message

    def backtest(fired: int) -> None:
        store.record_backtest(BacktestRecord(environment=env.name, metric=metric.name, dataset="net_sales_daily",
                                             check="variance", check_hash=check_hash(checks["variance"]),
                                             first_partition="2024-05-04", last_partition="2024-06-02",
                                             partitions=30, fired=fired))

    backtest(fired=12)
    [problem] = strict_problems(metric, tree, env, store)
    assert "its backtest fired on 12 of 30 partition(s) (40%), more than review.max_fire_share 10%" in problem.message
    backtest(fired=1)  # the newest backtest counts
    assert strict_problems(metric, tree, env, store) == []
