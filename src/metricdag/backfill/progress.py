"""Progress of a backfill: partitions done/total, failed so far, elapsed time and ETA."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Tally:
    """Counts and clock of a running backfill (pure: the display reads it)."""

    total: int
    done: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)

    def record(self, ok: bool) -> None:
        self.done += 1
        self.failed += 0 if ok else 1

    def elapsed(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.started

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left at the mean pace so far (None before the first partition finished)."""
        if self.done == 0:
            return None
        return self.elapsed(now) / self.done * (self.total - self.done)


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def line(tally: Tally, current: str = "") -> str:
    """One plain status line (also what a non-terminal output gets after each partition)."""
    text = (f"{tally.done}/{tally.total} partitions, {tally.failed} failed, "
            f"elapsed {clock(tally.elapsed())}, ETA {clock(tally.eta())}")
    return f"{text}  {current}".rstrip()


class ProgressBar:
    """A rich progress bar on a terminal; on other outputs one plain line per partition."""

    def __init__(self, tally: Tally, label: str, console=None) -> None:
        from rich.console import Console

        self.tally = tally
        self.label = label
        self.console = console or Console(stderr=True)
        self._progress = None
        self._task = None

    def __enter__(self) -> ProgressBar:
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("[red]{task.fields[failed]} failed"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=self.console,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.label, total=self.tally.total, failed=0)
        return self

    def start(self, partition: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=f"{self.label} {partition}")

    def advance(self, partition: str, ok: bool) -> None:
        self.tally.record(ok)
        if self._progress is not None:
            self._progress.update(self._task, completed=self.tally.done, failed=self.tally.failed)
        else:
            print(line(self.tally, f"{partition} {'ok' if ok else 'FAILED'}"), file=self.console.file, flush=True)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
