"""Load: many people ask a spoken question at the same moment and listen to the whole answer.

Launches the app (``python app.py``) on 127.0.0.1 with its own Gradio cache (or uses ``--url``), then
starts ``--users`` (default 20) gradio_client users together. Each uploads a different recording of a
question to /ask, then calls /speak with the answer and fetches the whole HLS stream as a player does
(segments as they appear, until the playlist ends). Every user has a deadline (``--deadline``).

Prints how many were served, refused cleanly (the queue's "Queue is full! Please try again."), failed
(anything else) or hung (past the deadline), and p50/p95 of the time from pressing "ask" to the first
audio segment in hand and to the last one. Target: 0 failed, 0 hung.

    .venv/bin/python benchmarks/load.py [--users 20] [--rounds 3] [--deadline 120] [--url URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    StreamHung, cleanup, first_update, follow_stream, launch_app, percentile, unique_recordings)


@dataclass
class Outcome:
    kind: str  # served | refused | failed | hung
    detail: str = ""
    answer_s: float | None = None
    first_audio_s: float | None = None
    last_audio_s: float | None = None


def one_user(url: str, recording: Path, barrier: threading.Barrier, deadline_s: float) -> Outcome:
    from gradio_client import Client, handle_file
    from gradio_client.utils import QueueError

    job = None
    try:
        client = Client(url, verbose=False, download_files=False, httpx_kwargs={"timeout": 30})
        http = httpx.Client(timeout=30)
        barrier.wait()
        start = time.perf_counter()
        deadline = time.monotonic() + deadline_s
        job = client.submit(handle_file(str(recording)), api_name="/ask")
        _question, answer = job.result(timeout=deadline_s)
        answered = time.perf_counter()
        job = client.submit(answer, api_name="/speak")
        update = first_update(job, timeout_s=max(0.1, deadline - time.monotonic()))
        if update is None:
            return Outcome("failed", "an answer without audio")
        stream = follow_stream(update["url"], deadline, http)
        if not stream.segments:
            return Outcome("failed", "an empty stream")
        return Outcome("served", answer_s=answered - start, first_audio_s=stream.first_segment_at - start,
                       last_audio_s=stream.last_segment_at - start)
    except QueueError as error:
        return Outcome("refused", str(error))
    except (StreamHung, TimeoutError, threading.BrokenBarrierError) as error:
        if job is not None:
            job.cancel()
        return Outcome("hung", f"{type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001 - every other outcome is a failure, reported as such
        return Outcome("failed", f"{type(error).__name__}: {error}")


def run_round(url: str, recordings: list[Path], deadline_s: float) -> tuple[list[Outcome], float]:
    outcomes: list[Outcome | None] = [None] * len(recordings)
    barrier = threading.Barrier(len(recordings), timeout=120)

    def user(i: int):
        outcomes[i] = one_user(url, recordings[i], barrier, deadline_s)

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(len(recordings))]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=deadline_s + 150)
    wall = time.perf_counter() - start
    return [o or Outcome("hung", "the user's thread never finished") for o in outcomes], wall


def report(label: str, outcomes: list[Outcome], wall: float) -> None:
    counts = {kind: sum(o.kind == kind for o in outcomes) for kind in ("served", "refused", "failed", "hung")}
    print(f"{label}: {len(outcomes)} users in {wall:.1f} s — served {counts['served']}, refused cleanly "
          f"{counts['refused']}, failed {counts['failed']}, hung {counts['hung']}")
    served = [o for o in outcomes if o.kind == "served"]
    for name in ("answer_s", "first_audio_s", "last_audio_s"):
        values = [getattr(o, name) for o in served]
        if values:
            title = {"answer_s": "answer text", "first_audio_s": "first audio", "last_audio_s": "last audio"}[name]
            print(f"  time to {title:12s} p50 {percentile(values, 0.5):6.2f} s   p95 {percentile(values, 0.95):6.2f} s")
    for o in outcomes:
        if o.kind in ("failed", "hung") or (o.kind == "refused" and o.detail != "Queue is full! Please try again."):
            print(f"  {o.kind}: {o.detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1, help="bursts of --users, one after another")
    parser.add_argument("--deadline", type=float, default=120, help="seconds a user waits before 'hung'")
    parser.add_argument("--url", help="an app already running (default: launch one)")
    args = parser.parse_args()

    recordings = unique_recordings(Path(tempfile.mkdtemp(prefix="load-questions-")), args.users * args.rounds)
    server = None if args.url else launch_app()
    url = args.url or server.url
    try:
        print(f"load: {args.users} simultaneous users x {args.rounds} round(s), {os.cpu_count()} CPU cores, "
              f"deadline {args.deadline:.0f} s each")
        if server:
            print(f"server RSS at start {server.rss_mb():.0f} MB")
        everyone: list[Outcome] = []
        walls = []
        for r in range(args.rounds):
            outcomes, wall = run_round(url, recordings[r * args.users:(r + 1) * args.users], args.deadline)
            report(f"round {r + 1}", outcomes, wall)
            everyone += outcomes
            walls.append(wall)
        if args.rounds > 1:
            report("all rounds", everyone, statistics.median(walls))
        if server:
            print(f"server RSS at end {server.rss_mb():.0f} MB")
    finally:
        if server:
            cleanup(server)
    bad = sum(o.kind in ("failed", "hung") for o in everyone)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
