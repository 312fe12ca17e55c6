"""Server processes, wrk, py-spy and peak-RSS readings for the benchmark.

Servers run as separate processes started exactly as a deployment would start them
(``roomline serve``; the ceiling through ``python -m uvicorn`` with the same uvicorn
settings), and wrk drives them from its own process, so the load generator never shares
the server's interpreter.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
LOAD_SCRIPT = BENCH_DIR / "load.lua"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_wrk() -> str:
    """Return wrk's path, installing Debian's ``wrk`` package with apt-get if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("bench: wrk is missing; installing it with apt-get", file=sys.stderr, flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: apt-get installed wrk but it is not on PATH")
    return found


@dataclass
class Server:
    """A running server process and where to reach it."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    # The PostgreSQL database it serves, whose backends' CPU the benchmark counts.
    database_name: str | None = None

    def pids(self) -> list[int]:
        """The server process and all its descendants (uvicorn's workers)."""
        return [self.process.pid, *_descendants(self.process.pid)]

    def reset_peak_rss(self) -> None:
        # Writing 5 to clear_refs resets VmHWM (Linux >= 4.0), so each workflow gets
        # its own peak; where it is refused the peak simply covers the whole run.
        for pid in self.pids():
            with suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")

    def peak_rss_bytes(self) -> tuple[int, int]:
        """The largest single process's peak resident set size (VmHWM), and their sum.

        The largest is what the target of 150 MB per worker bounds: ``roomline serve``
        runs a background process beside its workers, and with several workers a
        supervisor too, so the sum grows with the number of processes, not with what a
        worker holds.
        """
        peaks = []
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) * 1024)
        return max(peaks, default=0), sum(peaks)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass(frozen=True)
class CpuReading:
    """CPU seconds used so far by each of the server's processes and of PostgreSQL's
    serving its database, by this process's waited-for children (wrk), and the machine's
    idle and total time."""

    server: dict[int, float]
    database: dict[int, float]
    children: float
    idle: float
    total: float

    def per_request(self, later: CpuReading, requests: int) -> dict[str, float]:
        """Microseconds of CPU per request from this reading to ``later``, and how much
        of the machine stood idle: where the cores went while wrk ran."""

        def micros(seconds: float) -> float:
            return round(seconds / max(requests, 1) * 1e6, 1)

        elapsed = later.total - self.total
        idle = (later.idle - self.idle) / elapsed * 100 if elapsed else 0.0
        return {
            "server_us": micros(cpu_grown(self.server, later.server)),
            "database_us": micros(cpu_grown(self.database, later.database)),
            "wrk_us": micros(later.children - self.children),
            "idle_percent": round(idle, 1),
        }


def cpu_grown(before: dict[int, float], after: dict[int, float]) -> float:
    # A process that ended between the readings took its count with it: what it used
    # since the first reading is lost (PostgreSQL backends of a pool that shrank).
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


def cpu_reading(server: Server) -> CpuReading:
    """Read the CPU counters ``CpuReading`` holds (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    jiffies = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuReading(
        server={pid: cpu_seconds(pid, ticks) for pid in server.pids()},
        database={pid: cpu_seconds(pid, ticks) for pid in _postgres_serving(server.database_name)},
        children=children.ru_utime + children.ru_stime,
        idle=(jiffies[3] + jiffies[4]) / ticks,  # idle and iowait
        total=sum(jiffies[:8]) / ticks,
    )


def cpu_seconds(pid: int, ticks: int = os.sysconf("SC_CLK_TCK")) -> float:
    """CPU seconds process ``pid`` has used (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    after_name = stat.rsplit(")", 1)[1].split()
    return (int(after_name[11]) + int(after_name[12])) / ticks  # utime, stime


def _postgres_serving(database: str | None) -> list[int]:
    """PostgreSQL's processes that work for ``database``: its backends (their title is
    ``postgres: [cluster:] user database host(port) state``) and the server's own (WAL
    writer, checkpointer ...), not other databases' backends."""
    if database is None:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            words = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().split()
            # A client's backend names its peer's address, the database just before it.
            peer = next((index for index, word in enumerate(words) if "(" in word), None)
            if peer is None or words[peer - 1] == database:
                found.append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces; the parent pid follows its closing paren.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _clean_environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMLINE_")}
    env.update(extra)
    return env


@contextmanager
def running(
    name: str,
    command: list[str],
    ready_path: str,
    log_dir: Path,
    port: int,
    environment: dict[str, str] | None = None,
) -> Iterator[Server]:
    """Start ``command``, wait until ``ready_path`` answers 200, and stop it afterwards."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=_clean_environment({"PYTHONUNBUFFERED": "1", **(environment or {})}),
        )
    server = Server(name, process, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_ready(server, ready_path)
        yield server
    finally:
        server.stop()


def _wait_ready(server: Server, path: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited early:\n{server.log_path.read_text()}")
        try:
            if httpx.get(server.base_url + path, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not become ready:\n{server.log_path.read_text()}")


def roomline_command(
    database_url: str, port: int, workers: int, extra: tuple[str, ...] = ()
) -> list[str]:
    """``roomline serve`` with its production defaults (plus ``extra`` options)."""
    return [
        sys.executable,
        "-m",
        "roomline",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database-url",
        database_url,
        "--workers",
        str(workers),
        *extra,
    ]


def uvicorn_command(app: str, port: int, workers: int) -> list[str]:
    """``app`` (bench/ceiling.py, bench/floor.py) under the uvicorn settings ``roomline serve`` uses."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "auto",
        "--http",
        "auto",
        "--no-access-log",
        "--log-level",
        "info",
        "--timeout-graceful-shutdown",
        "10",
    ]


@dataclass(frozen=True)
class Load:
    """How hard and how long wrk pushes."""

    threads: int
    connections: int
    seconds: int


def run_wrk(
    wrk: str, base_url: str, workflow: str, load: Load, env: dict[str, str], run: int
) -> dict[str, Any]:
    """Drive ``workflow`` with wrk and return the counts bench/load.lua reports."""
    command = [
        wrk,
        "-t",
        str(load.threads),
        "-c",
        str(load.connections),
        "-d",
        f"{load.seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(LOAD_SCRIPT),
        base_url,
    ]
    environment = dict(
        os.environ,
        **env,
        BENCH_WORKFLOW=workflow,
        BENCH_RUN=str(run),
        BENCH_THREADS=str(load.threads),
    )
    done = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
            result["stderr"] = done.stderr.strip()[-2000:]
            return result
    raise RuntimeError(
        f"wrk gave no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    )


@contextmanager
def profiling(pid: int, seconds: int, output: Path, subprocesses: bool) -> Iterator[None]:
    """Sample ``pid`` with py-spy for ``seconds`` while the block runs (raw collapsed stacks)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [
        py_spy,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(seconds),
        "--rate",
        "200",
        # Only the thread holding the GIL: where the server's Python time goes, without
        # the idle threadpool workers; and without pausing the server to read its stacks.
        "--gil",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    if subprocesses:
        command.append("--subprocesses")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        try:
            process.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
