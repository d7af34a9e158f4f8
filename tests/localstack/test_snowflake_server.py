"""The local Snowflake's session watch: a session idle inside a transaction is rolled back and
ended; sessions that are busy, or idle outside a transaction, are left alone."""

from __future__ import annotations

import warnings

import pytest

from metricdag_localstack.snowflake_server import SessionWatch, report_write_conflicts, session_token

TIMEOUT_S = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fakesnow_instance():
    from fakesnow.instance import FakeSnow

    warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)
    instance = FakeSnow()
    setup = instance.connect("DB1", "S1")
    setup.cursor().execute("CREATE TABLE T (A INT)")
    setup.cursor().execute("INSERT INTO T VALUES (1), (2)")
    return instance


@pytest.fixture
def watch_env(fakesnow_instance, monkeypatch):
    from fakesnow.cursor import FakeSnowflakeCursor

    monkeypatch.setattr(FakeSnowflakeCursor, "execute", FakeSnowflakeCursor.execute)  # restored afterwards
    sessions: dict = {}
    clock = Clock()
    watch = SessionWatch(sessions, TIMEOUT_S, clock)
    report_write_conflicts(watch)
    return watch, sessions, clock


def test_a_session_idle_inside_a_transaction_is_rolled_back_and_ended(fakesnow_instance, watch_env):
    watch, sessions, clock = watch_env
    dead = sessions["dead"] = fakesnow_instance.connect("DB1", "S1")
    watch.request_started("dead")
    dead.cursor().execute("BEGIN")
    dead.cursor().execute("DELETE FROM T")
    watch.request_finished("dead")

    clock.now += TIMEOUT_S - 1
    assert watch.reap() == []
    clock.now += 2
    assert watch.reap() == ["dead"]

    assert "dead" not in sessions and dead.is_closed()
    other = fakesnow_instance.connect("DB1", "S1").cursor()
    other.execute("DELETE FROM T")  # no write conflict: the dead session's DELETE was rolled back
    assert other.fetchall() == [(2,)]


def test_busy_sessions_and_sessions_outside_a_transaction_are_kept(fakesnow_instance, watch_env):
    watch, sessions, clock = watch_env
    idle = sessions["idle"] = fakesnow_instance.connect("DB1", "S1")
    busy = sessions["busy"] = fakesnow_instance.connect("DB1", "S1")
    for token in ("idle", "busy"):
        watch.request_started(token)
        watch.request_finished(token)
    idle.cursor().execute("BEGIN")
    idle.cursor().execute("COMMIT")
    busy.cursor().execute("BEGIN")
    watch.request_started("busy")  # a long statement still running

    clock.now += TIMEOUT_S * 10
    assert watch.reap() == []
    assert set(sessions) == {"idle", "busy"}


def test_a_write_conflict_is_snowflakes_lock_error_not_a_crash(fakesnow_instance, watch_env):
    import snowflake.connector.errors

    first, second = fakesnow_instance.connect("DB1", "S1"), fakesnow_instance.connect("DB1", "S1")
    first.cursor().execute("BEGIN")
    first.cursor().execute("DELETE FROM T")

    with pytest.raises(snowflake.connector.errors.ProgrammingError) as caught:
        second.cursor().execute("DELETE FROM T")

    assert caught.value.errno == 625 and "another transaction is changing the same rows" in caught.value.msg


def test_the_session_token_is_read_from_the_authorization_header():
    assert session_token([(b"authorization", b'Snowflake Token="abc=="')]) == "abc=="
    assert session_token([(b"content-type", b"application/json")]) is None
