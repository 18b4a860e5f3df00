"""The app exactly as ``python app.py`` runs it (``app.main()``), that also answers a census of its threads,
for the leak tests: ``python -m harness.thread_census``; ``harness.microphone.AppProcess.thread_census()``
asks for one.

On SIGUSR2 it writes to the file named by ``$ORACLE_THREAD_CENSUS`` (JSON, written whole, then renamed) the
process's threads as the OS counts them and each Python thread: its name and whether it waits idle in a
pool (an anyio worker or a ``concurrent.futures`` worker blocked on its work queue). Idle pool workers
belong to no visit: a pool keeps some for later, a number it bounds itself. A thread that is busy, or in no
pool, belongs to something that is still going on.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections import Counter
from pathlib import Path

CENSUS_SIGNAL = signal.SIGUSR2
CENSUS_FILE_ENV = "ORACLE_THREAD_CENSUS"

# The loops in which a pool's worker waits for work: (the file's path ends with, the function).
POOL_LOOPS = {("anyio/_backends/_asyncio.py", "run"), ("concurrent/futures/thread.py", "_worker")}
# Where a waiting thread's innermost frames are: the waiting machinery, not what waits.
WAITING_MACHINERY = ("/threading.py", "/queue.py")


def idle_in_pool(frame) -> bool:
    """Whether the thread whose innermost frame is ``frame`` is a pool worker waiting for work."""
    while frame is not None and frame.f_code.co_filename.endswith(WAITING_MACHINERY):
        frame = frame.f_back
    if frame is None:
        return False
    code = frame.f_code
    return any(code.co_filename.endswith(path) and code.co_name == name for path, name in POOL_LOOPS)


def census() -> dict:
    frames = sys._current_frames()
    status = Path("/proc/self/status").read_text()
    os_threads = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))
    return {"os_threads": os_threads,
            "threads": [{"name": thread.name, "idle_in_pool": idle_in_pool(frames.get(thread.ident))}
                        for thread in threading.enumerate()]}


def write_census(signum=None, frame=None) -> None:
    target = Path(os.environ[CENSUS_FILE_ENV])
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(census()))
    os.replace(partial, target)


def main() -> None:
    import app

    if CENSUS_FILE_ENV not in os.environ:
        raise SystemExit(f"set {CENSUS_FILE_ENV} to the file the census is written to")
    signal.signal(CENSUS_SIGNAL, write_census)
    app.main()


if __name__ == "__main__":
    main()


class ThreadCensus:
    """One census, as the test reads it."""

    def __init__(self, data: dict):
        self.os_threads: int = data["os_threads"]
        self.names: list[str] = [thread["name"] for thread in data["threads"]]
        self.idle_in_pools: int = sum(thread["idle_in_pool"] for thread in data["threads"])
        # Python threads at work or in no pool: each belongs to something still going on.
        self.busy: list[str] = sorted(thread["name"] for thread in data["threads"] if not thread["idle_in_pool"])

    @property
    def native(self) -> int:
        """Threads that Python did not start (the engines' own pools: onnxruntime, CTranslate2, FFmpeg)."""
        return self.os_threads - len(self.names)

    def __repr__(self) -> str:
        busy = dict(sorted(Counter(self.busy).items()))
        return (f"{self.os_threads} threads: {len(self.busy)} busy Python threads {busy}, "
                f"{self.idle_in_pools} idle in pools, {self.native} native")
