"""Work in the background (SPEC §9): jobs that run without a request.

Every server process (each worker of ``roomline serve``, and ``roomline demo``) runs the
jobs, unless ``ROOMLINE_BACKGROUND=false``. Several processes and hosts may run the same
job at the same time: each job claims what it works on in the database (a row lock,
``FOR UPDATE SKIP LOCKED``, or SQLite's one write transaction), so nothing is done twice
and nothing waits for a particular host. Jobs read the time from the server's clock, so
a pinned or shifted demo clock moves them too.

A job's ``run`` returns whether it did anything; one that did runs again at once (there
may be more), one that did not sleeps ``every`` seconds or until ``wake`` is called.
A failing run is logged and counted (``roomline_background_runs_total``) and retried
after ``every``: background work must never take the server down.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from roomline import metrics

log = logging.getLogger("roomline.background")

JobRun = Callable[[], bool] | Callable[[], Awaitable[bool]]


@dataclass
class Job:
    """One piece of background work: ``run`` (sync runs in a thread) every ``every`` s."""

    name: str
    every: float
    run: JobRun
    _wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def wake(self) -> None:
        """Run soon instead of after the rest of the sleep (call on the event loop)."""
        self._wake.set()


class BackgroundWork:
    """Runs jobs on the event loop of one server process, from start-up to shutdown."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = {job.name: job for job in jobs}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._loop(job)) for job in self.jobs.values()]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _loop(self, job: Job) -> None:
        while True:
            # Cleared before the run, not after: a wake-up that comes while the job runs
            # (new work it did not see) must not wait out the sleep.
            job._wake.clear()
            busy = await run_once(job)
            if busy:
                await asyncio.sleep(0)  # let requests in between batches
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job._wake.wait(), job.every)


async def run_once(job: Job) -> bool:
    """Run ``job`` once, counting how it ended; True if it did something."""
    try:
        if inspect.iscoroutinefunction(job.run):
            busy = await job.run()
        else:
            busy = await asyncio.to_thread(job.run)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background job %s failed; it runs again in %s s", job.name, job.every)
        metrics.BACKGROUND_RUNS.labels(job.name, "failed").inc()
        return False
    metrics.BACKGROUND_RUNS.labels(job.name, "done" if busy else "idle").inc()
    return bool(busy)
