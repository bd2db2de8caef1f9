"""Where the tasks of a study graph run: this process, a local process pool, or a Dask cluster.

Every executor runs the same :func:`.tasks.run_task` on the same task objects, in
dependency order, and reports each :class:`.tasks.TaskOutcome` to ``on_outcome`` as it
arrives; the tasks exchange only files, so results do not depend on the executor.

* :class:`InProcess`: one task after another (the default).
* :class:`ProcessPool`: ``workers`` processes; a task starts only when the memory estimates
  of the tasks in flight plus its own fit in the memory available at the start (so
  simulations of large CTs queue instead of swapping); at least one task always runs.
* :class:`DaskCluster`: the graph as Dask futures on a scheduler at ``ADDRESS`` or a
  ``LocalCluster`` of N workers (``local:N``); tasks that need a GPU carry the resource
  annotation ``{"GPU": 1}``. Workers must see the study folder (a shared file system).

Cancellation (the ``cancel`` check) raises :class:`.errors.Cancelled` in the caller; SIGINT
and SIGTERM raise :class:`.errors.Interrupted` there (the command line turns them into one
line). Either way the workers are stopped and every artifact is either finished (with
manifest) or not, as writes are atomic.
"""
from __future__ import annotations

import os
import signal
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Optional, Sequence

from LowDoseRobustnessLib.errors import Cancelled, InputError, Interrupted
from LowDoseRobustnessLib.io.validation import available_memory_bytes
from LowDoseRobustnessLib.study.tasks import BLOCKED, FAILED, Task, TaskOutcome, run_task

OutcomeCallback = Callable[[Task, TaskOutcome], None]
MEMORY_SHARE = 0.8
"""Share of the memory available at the start that tasks in flight may take together."""
POLL_SECONDS = 0.2


def _check(cancel: Optional[Callable[[], bool]]) -> None:
    if cancel is not None and cancel():
        raise Cancelled("cancelled by the user")


def _blocked(task: Task, outcomes: dict) -> Optional[TaskOutcome]:
    failed = [d for d in task.depends if outcomes[d].status in (FAILED, BLOCKED)]
    return TaskOutcome(task.id, BLOCKED, f"needs {failed[0]}, which failed") if failed else None


class InProcess:
    """Run the tasks one after another in this process."""

    name = "in-process"
    workers = 1

    def run(self, tasks: Sequence[Task], on_outcome: OutcomeCallback, cancel=None) -> None:
        outcomes = {}
        for task in tasks:
            _check(cancel)
            outcome = _blocked(task, outcomes) or run_task(task, cancel=cancel)
            outcomes[task.id] = outcome
            on_outcome(task, outcome)


_WORKER = {"busy": False}


def _worker_start(threads: int) -> None:
    """In each pool worker: SIGINT is the parent's business; SIGTERM ends a running task cleanly (its temporary
    file removed) or an idle worker at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def stop(number, frame):
        if not _WORKER["busy"]:
            os._exit(0)
        _WORKER["busy"] = False
        raise Interrupted(number, signal.Signals(number).name)

    signal.signal(signal.SIGTERM, stop)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


class ProcessPool:
    """Run tasks in ``workers`` local processes, never more in flight than their memory estimates allow."""

    name = "process pool"

    def __init__(self, workers: int, memory_bytes: Optional[int] = None):
        if workers < 1:
            raise InputError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.memory_bytes = memory_bytes or int(MEMORY_SHARE * available_memory_bytes())

    def run(self, tasks: Sequence[Task], on_outcome: OutcomeCallback, cancel=None) -> None:
        waiting, running, outcomes = list(tasks), {}, {}
        pool = self._start()
        try:
            while waiting or running:
                _check(cancel)
                for task in list(waiting):
                    if not all(d in outcomes for d in task.depends):
                        continue
                    outcome = _blocked(task, outcomes)
                    if outcome is None and not self._fits(task, running.values()):
                        continue
                    waiting.remove(task)
                    if outcome is None:
                        running[pool.submit(_pool_task, task)] = task
                    else:
                        outcomes[task.id] = outcome
                        on_outcome(task, outcome)
                finished, _ = wait(running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = running.pop(future)
                    outcomes[task.id] = _result(future, task)
                    on_outcome(task, outcomes[task.id])
                if any(isinstance(f.exception(), BrokenProcessPool) for f in finished):
                    _stop_pool(pool)  # a worker died (killed, out of memory): the others' tasks fail with it
                    pool = self._start()
        except BaseException:
            _stop_pool(pool)
            raise
        pool.shutdown()

    def _start(self) -> ProcessPoolExecutor:
        import multiprocessing

        threads = max(1, (os.cpu_count() or 1) // self.workers)
        return ProcessPoolExecutor(self.workers, multiprocessing.get_context("spawn"), _worker_start, (threads,))

    def _fits(self, task: Task, running) -> bool:
        """A free worker, and the task's memory estimate fits beside those in flight (or nothing runs)."""
        running = list(running)
        in_flight = sum(t.memory_bytes for t in running)
        return len(running) < self.workers and (not running or in_flight + task.memory_bytes <= self.memory_bytes)


def _pool_task(task: Task) -> TaskOutcome:
    """:func:`.tasks.run_task` in a pool worker, marked busy while it runs (see :func:`_worker_start`)."""
    _WORKER["busy"] = True
    try:
        return run_task(task)
    finally:
        _WORKER["busy"] = False


def _result(future, task: Task) -> TaskOutcome:
    """The outcome a worker returned, or a failure when the worker itself failed (e.g. killed)."""
    try:
        return future.result()
    except Cancelled:
        raise
    except Exception as error:
        return TaskOutcome(task.id, FAILED, f"its worker failed: {type(error).__name__}: {error}")


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel queued tasks and end the workers with SIGTERM (their running task removes its temporaries)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()


class DaskCluster:
    """Run the graph on a Dask distributed scheduler (``ADDRESS``) or a new ``LocalCluster`` (``local:N``)."""

    name = "dask"

    def __init__(self, scheduler: str, log: Callable[[str], None] = print):
        self.scheduler, self.log, self.local_workers = scheduler, log, None
        if scheduler.startswith("local:"):
            count = scheduler.partition(":")[2]
            if not count.isdigit() or int(count) < 1:
                raise InputError(f"--scheduler local:N needs a number of workers N >= 1, got {scheduler!r}")
            self.local_workers = int(count)
        self.workers = self.local_workers or 1

    def _client(self):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise InputError("--scheduler needs Dask: pip install 'lowdose-robustness[cluster]'") from None
        if self.local_workers:
            cluster = LocalCluster(n_workers=self.local_workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            return Client(cluster), cluster
        try:
            return Client(self.scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as error:
            raise InputError(f"cannot reach the Dask scheduler at {self.scheduler}: {error}") from None

    def run(self, tasks: Sequence[Task], on_outcome: OutcomeCallback, cancel=None) -> None:
        from dask.distributed import as_completed

        client, cluster = self._client()
        try:
            gpu_workers = any("GPU" in (w.get("resources") or {})
                              for w in client.scheduler_info()["workers"].values())
            if not gpu_workers and any(t.resources for t in tasks):
                self.log("no Dask worker offers a GPU resource: GPU tasks run on any worker")
            futures, by_key = {}, {}
            for task in tasks:
                future = client.submit(run_task, task, *(futures[d] for d in task.depends), pure=False,
                                       resources=(task.resources or None) if gpu_workers else None)
                futures[task.id], by_key[future.key] = future, task
            pending = as_completed(futures.values())
            while not pending.is_empty():
                _check(cancel)
                for future in pending.next_batch(block=False) or []:
                    on_outcome(by_key[future.key], _result(future, by_key[future.key]))
                if not pending.is_empty():
                    _wait_briefly(pending)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _wait_briefly(pending) -> None:
    """Wait up to :data:`POLL_SECONDS` for the next finished future (the cancel check and signals stay responsive)."""
    deadline = time.monotonic() + POLL_SECONDS
    while time.monotonic() < deadline and not pending.has_ready():
        time.sleep(0.02)


def make_executor(workers: int = 0, scheduler: Optional[str] = None, log: Callable[[str], None] = print):
    """In-process (``workers`` 0 or 1), a process pool (``workers`` > 1), or Dask (``scheduler``)."""
    if workers < 0:
        raise InputError(f"--workers must be 0 (this process) or more, got {workers}")
    if scheduler:
        return DaskCluster(scheduler, log)
    return ProcessPool(workers) if workers > 1 else InProcess()
