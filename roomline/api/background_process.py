"""Background work in a process of its own, beside the request workers (SPEC §9).

``roomline serve`` and ``roomline demo`` start one background process next to their
request workers, and tell the workers not to run background work themselves. Delivering
webhooks costs CPU for every change (shaping the event, signing it, an HTTP request); in
a request worker that CPU came out of the requests' share: with one worker, a webhook
subscribed cut Create's throughput to a fifth (bench/changes.py). In a process of its
own it runs on another core, as the operating system schedules it.

Nothing else changes: the jobs still claim their work in the database, so several hosts
(each with its own background process) never do the same work twice, and a host started
with ``ROOMLINE_BACKGROUND=false`` starts none. The process dies with the server (also
when the server is killed), and is started again if it dies on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import logging.config
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from roomline.api.observability import logging_config
from roomline.config import Settings

log = logging.getLogger("roomline.background")

# The environment variable that keeps request workers from running background work.
BACKGROUND_VARIABLE = "ROOMLINE_BACKGROUND"
# The server's pid, so the background process knows whom to die with.
PARENT_VARIABLE = "ROOMLINE_BACKGROUND_PARENT"
RESTART_DELAY_SECONDS = 1.0
STOP_WAIT_SECONDS = 10.0


@contextlib.contextmanager
def background_process(settings: Settings) -> Iterator[None]:
    """Run the background work in a child process while the block runs (the server);
    the block's own processes (uvicorn's workers) see ``ROOMLINE_BACKGROUND=false``."""
    if not settings.background:
        yield
        return
    os.environ[BACKGROUND_VARIABLE] = "false"
    keeper = _Keeper({**os.environ, BACKGROUND_VARIABLE: "true"})
    keeper.start()
    try:
        yield
    finally:
        keeper.stop()
        os.environ[BACKGROUND_VARIABLE] = "true"


class _Keeper:
    """Starts the background process, starts it again if it dies, stops it at the end."""

    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = environment
        self.stopping = threading.Event()
        self.process: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._keep, name="background-keeper", daemon=True)

    def start(self) -> None:
        self._spawn()
        self.thread.start()

    def _spawn(self) -> None:
        with self.lock:
            if self.stopping.is_set():
                return
            self.process = subprocess.Popen(
                [sys.executable, "-m", "roomline.api.background_process"],
                env={**self.environment, PARENT_VARIABLE: str(os.getpid())},
            )

    def _keep(self) -> None:
        while not self.stopping.is_set():
            process = self.process
            if process is None:
                return
            code = process.wait()
            if self.stopping.is_set():
                return
            log.error(
                "the background process exited (status %s); starting it again in %.0f s",
                code,
                RESTART_DELAY_SECONDS,
            )
            if self.stopping.wait(RESTART_DELAY_SECONDS):
                return
            self._spawn()

    def stop(self) -> None:
        with self.lock:
            self.stopping.set()
            process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _die_with_parent() -> None:
    """Be killed when the server dies, however it dies (Linux's PR_SET_PDEATHSIG;
    elsewhere a killed server leaves this process behind); exit at once if it is gone."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    parent = os.environ.get(PARENT_VARIABLE)
    if parent is not None and os.getppid() != int(parent):
        sys.exit(0)  # the server died before the line above took effect


def main() -> None:
    """The background process: the app's background work, and no requests."""
    from roomline.api.app import create_app

    _die_with_parent()
    settings = Settings()
    logging.config.dictConfig(
        logging_config(settings.log_format, settings.log_level, settings.access_log)
    )
    app = create_app(settings)
    _event_loop_runner()(_run_until_stopped(app))


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, None]], None]:
    """uvloop where it is installed (uvicorn[standard] brings it, as for the request
    workers): its sockets and callbacks cost a webhook delivery about a third less CPU
    than asyncio's own loop (docs/performance.md)."""
    try:
        import uvloop
    except ImportError:  # Windows has none
        return asyncio.run
    return uvloop.run


async def _run_until_stopped(app: object) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with app.router.lifespan_context(app):  # type: ignore[attr-defined]
        log.info("background work started (pid %d)", os.getpid())
        await stop.wait()
    log.info("background work stopped")


if __name__ == "__main__":
    main()
