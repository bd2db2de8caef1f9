"""One progress report for a whole study: tasks done, skipped and failed, and the time left.

Every outcome goes to one :data:`..progress.ProgressCallback` as the fraction of tasks
resolved and a message such as ``12/45 tasks (done 8, skipped 3, failed 1), about 2 min
left: segmented ct fbp builtin 20%``. The time left is the mean run time of each task kind
so far times the tasks of that kind still to run, divided by the parallel workers.
"""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Optional

from LowDoseRobustnessLib.progress import ProgressCallback
from LowDoseRobustnessLib.study.tasks import BLOCKED, DONE, FAILED, SKIPPED, Task, TaskOutcome

PAST = {"simulate": "simulated", "segment": "segmented", "compare": "compared"}


def duration_text(seconds: float) -> str:
    """``45 s``, ``3 min``, ``1 h 20 min``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds // 3600:.0f} h {seconds % 3600 / 60:.0f} min"


class StudyProgress:
    """Counts task outcomes and reports them through ``callback``."""

    def __init__(self, tasks: list[Task], callback: Optional[ProgressCallback], parallel: int = 1):
        self.total = max(1, len(tasks))
        self.left = Counter(t.kind for t in tasks)
        self.counts = Counter()
        self.seconds = defaultdict(list)
        self.callback, self.parallel = callback, max(1, parallel)
        self.started = time.monotonic()

    def skipped(self, tasks: list[Task]) -> None:
        """Count finished tasks that need not run, in one report."""
        for task in tasks:
            self.left[task.kind] -= 1
        self.counts[SKIPPED] += len(tasks)
        if tasks and self.callback is not None:
            self.callback(self.resolved / self.total, f"{self.summary()}: {len(tasks)} already done")

    def __call__(self, task: Task, outcome: TaskOutcome) -> None:
        self.left[task.kind] -= 1
        status = FAILED if outcome.status == BLOCKED else outcome.status
        self.counts[status] += 1
        if outcome.status == DONE:
            self.seconds[task.kind].append(outcome.seconds)
        if self.callback is not None:
            what = {DONE: PAST[task.kind], SKIPPED: "already done:", FAILED: "FAILED", BLOCKED: "blocked"}
            self.callback(self.resolved / self.total,
                          f"{self.summary()}{self.eta()}: {what[outcome.status]} {task.id.partition(' ')[2]}")

    @property
    def resolved(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        return (f"{self.resolved}/{self.total} tasks (done {self.counts[DONE]}, skipped {self.counts[SKIPPED]}, "
                f"failed {self.counts[FAILED]})")

    def eta(self) -> str:
        measured = [s for values in self.seconds.values() for s in values]
        if not measured or self.resolved >= self.total:
            return ""
        mean_all = sum(measured) / len(measured)
        seconds = sum(count * (sum(self.seconds[kind]) / len(self.seconds[kind]) if self.seconds[kind] else mean_all)
                      for kind, count in self.left.items() if count > 0) / self.parallel
        return f", about {duration_text(seconds)} left"
