"""Load: many people ask a spoken question at the same moment and listen to the whole answer.

Launches the app (``python app.py``) on 127.0.0.1 with its own Gradio cache (or uses ``--url``), then
starts ``--users`` (default 20) gradio_client users together. Each uploads a different recording of a
question to /ask, then calls /speak with the answer and fetches the whole HLS stream as a player does
(segments as they appear, until the playlist ends). Every user has a deadline (``--deadline``).

Prints how many were served, refused cleanly (the queue's "Queue is full! Please try again."), failed
(anything else) or hung (past the deadline), and p50/p95 of the time from pressing "ask" to the first
audio segment in hand and to the last one. In every round another visit (from its own address) asks a
typed question once the burst is in, and its time to the answer is printed. Target: 0 failed, 0 hung, the
typed question answered within 3 s.

Each simulated person presents an address of its own (``X-Forwarded-For``, which uvicorn trusts from
127.0.0.1 by default), as different people would: the app caps requests waiting per address.

Attacks (issue 10), each alone or with the users:
  --bypass            the users skip the queue: POST /gradio_api/run/ask directly (refused: the queue is
                      the only way in)
  --one-client N      one client (one visit, one address) submits N /speak requests at once, alongside
                      the users
  --sessions N        N fresh visits (a new session hash each) ask a typed question before the rounds
With a launched server, its RSS, threads, open files and cache files (by kind, and how many are older than
the sweep age) are printed before (after ``--warm-up`` consultations) and after; ``--cache-age S`` sets the
server's ORACLE_CACHE_MAX_AGE and waits for one sweep past it before the last figures.

    .venv/bin/python benchmarks/load.py [--users 20] [--rounds 3] [--deadline 120] [--url URL]
    .venv/bin/python benchmarks/load.py --users 50 --bypass
    .venv/bin/python benchmarks/load.py --users 20 --one-client 40
    .venv/bin/python benchmarks/load.py --sessions 2000 --users 20 --rounds 10 --warm-up 20 --cache-age 60
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    StreamHung, cleanup, first_update, follow_stream, launch_app, percentile, unique_recordings)

PROBE_QUESTION = "Will the sun shine tomorrow?"


def address(i: int) -> dict[str, str]:
    """Headers that give simulated person ``i`` an address of its own."""
    return {"X-Forwarded-For": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"}


@dataclass
class Outcome:
    kind: str  # served | refused | failed | hung
    detail: str = ""
    answer_s: float | None = None
    first_audio_s: float | None = None
    last_audio_s: float | None = None


def one_user(url: str, recording: Path, barrier: threading.Barrier, deadline_s: float, who: int) -> Outcome:
    from gradio_client import Client, handle_file
    from gradio_client.utils import QueueError

    job = client = http = None
    try:
        client = Client(url, verbose=False, download_files=False, headers=address(who), httpx_kwargs={"timeout": 30})
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
    finally:  # a Client keeps a heartbeat connection open until closed: the server's open files
        for connection in (client, http):
            if connection is not None:
                connection.close()


def one_bypasser(url: str, recording: Path, barrier: threading.Barrier, deadline_s: float, who: int) -> Outcome:
    """Skips the queue: uploads, then POSTs straight to /gradio_api/run/ask."""
    try:
        with httpx.Client(timeout=deadline_s, headers=address(who)) as http:
            with recording.open("rb") as f:
                uploaded = http.post(f"{url}gradio_api/upload", files=[("files", (recording.name, f))])
            uploaded.raise_for_status()
            barrier.wait()
            start = time.perf_counter()
            response = http.post(f"{url}gradio_api/run/ask", json={"data": [
                {"path": uploaded.json()[0], "meta": {"_type": "gradio.FileData"}}]})
        if response.status_code == 404 and "queue" in response.text:
            return Outcome("refused", "direct call refused: join the queue")
        if response.status_code == 200:
            return Outcome("served", "answered outside the queue", answer_s=time.perf_counter() - start)
        return Outcome("failed", f"HTTP {response.status_code}: {response.text[:200]}")
    except (httpx.TimeoutException, threading.BrokenBarrierError) as error:
        return Outcome("hung", f"{type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001
        return Outcome("failed", f"{type(error).__name__}: {error}")


def typed_probe(url: str, timeout_s: float) -> float | None:
    """Another visit, from an address of its own, asks a typed question; seconds to the answer."""
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=False, headers=address(0xFFFFFF),
                    httpx_kwargs={"timeout": 30})
    start = time.perf_counter()
    try:
        client.submit(PROBE_QUESTION, api_name="/ask_text").result(timeout=timeout_s)
    except Exception as error:  # noqa: BLE001 - reported as unanswered
        print(f"  probe: {type(error).__name__}: {error}")
        return None
    finally:
        client.close()
    return time.perf_counter() - start


def flood(url: str, n: int, barrier: threading.Barrier, deadline_s: float) -> dict[str, int]:
    """One client (one visit, one address) submits ``n`` /speak requests at once and waits for them."""
    from gradio_client import Client
    from gradio_client.utils import QueueError

    client = Client(url, verbose=False, download_files=False, headers=address(0xFFFFFE), httpx_kwargs={"timeout": 30})
    barrier.wait()
    jobs = [client.submit("Patience is a virtue, and time will tell.", api_name="/speak") for _ in range(n)]
    counts = {"accepted": 0, "refused": 0, "failed": 0, "hung": 0}
    for job in jobs:
        try:
            job.result(timeout=deadline_s)
            counts["accepted"] += 1
        except QueueError:
            counts["refused"] += 1
        except TimeoutError:
            job.cancel()
            counts["hung"] += 1
        except Exception:  # noqa: BLE001
            counts["failed"] += 1
    client.close()
    return counts


def fresh_sessions(url: str, n: int, timeout_s: float) -> tuple[int, int]:
    """``n`` visits, each with a new session hash, ask one typed question each: (answered, not)."""
    def visit(i: int) -> bool:
        session = uuid.uuid4().hex
        with httpx.Client(timeout=timeout_s, headers=address(1_000_000 + i)) as http:
            joined = http.post(f"{url}gradio_api/queue/join", json={
                "data": [PROBE_QUESTION], "fn_index": ask_text_index, "session_hash": session})
            if joined.status_code != 200:
                return False
            with http.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session}) as events:
                for line in events.iter_lines():
                    if "process_completed" in line:
                        return '"success":true' in line.replace(" ", "")
        return False

    config = httpx.get(f"{url}config", timeout=timeout_s).json()
    ask_text_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "ask_text")
    with ThreadPoolExecutor(8) as pool:
        answered = sum(pool.map(visit, range(n)))
    return answered, n - answered


def run_round(url: str, recordings: list[Path], deadline_s: float, bypass: bool = False,
              flood_n: int = 0) -> tuple[list[Outcome], float]:
    outcomes: list[Outcome | None] = [None] * len(recordings)
    barrier = threading.Barrier(len(recordings) + (1 if flood_n else 0), timeout=120)
    attempt = one_bypasser if bypass else one_user
    flooded: dict[str, int] = {}

    def user(i: int):
        outcomes[i] = attempt(url, recordings[i], barrier, deadline_s, i + 1)

    def flooder():
        flooded.update(flood(url, flood_n, barrier, deadline_s))

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(len(recordings))]
    if flood_n:
        threads.append(threading.Thread(target=flooder, daemon=True))
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # the burst is in
    probe_s = typed_probe(url, 60)
    for thread in threads:
        thread.join(timeout=deadline_s + 150)
    wall = time.perf_counter() - start
    print(f"  typed question from another visit during the burst: "
          f"{'not answered' if probe_s is None else f'answered in {probe_s:.2f} s'}")
    if flood_n:
        print(f"  one client's {flood_n} /speak at once: {flooded or 'never finished'}")
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
    parser.add_argument("--bypass", action="store_true", help="the users POST to /gradio_api/run/ask directly")
    parser.add_argument("--one-client", type=int, default=0, metavar="N",
                        help="one client submits N /speak at once in every round")
    parser.add_argument("--sessions", type=int, default=0, metavar="N", help="N fresh visits before the rounds")
    parser.add_argument("--warm-up", type=int, default=0, help="consultations before the first figures")
    parser.add_argument("--cache-age", type=int, help="ORACLE_CACHE_MAX_AGE for the server, in seconds")
    args = parser.parse_args()

    from oracle.limits import CACHE_MAX_AGE_S, CACHE_SWEEP_S

    age = args.cache_age or CACHE_MAX_AGE_S
    recordings = unique_recordings(Path(tempfile.mkdtemp(prefix="load-questions-")),
                                   args.users * args.rounds + args.warm_up)
    server = None if args.url else launch_app({"ORACLE_CACHE_MAX_AGE": str(age)} if args.cache_age else None)
    url = args.url or server.url
    everyone: list[Outcome] = []
    try:
        print(f"load: {args.users} simultaneous users x {args.rounds} round(s)"
              f"{' skipping the queue (run/)' if args.bypass else ''}"
              f"{f', one client flooding {args.one_client}' if args.one_client else ''}"
              f"{f', {args.sessions} fresh visits first' if args.sessions else ''}, "
              f"{os.cpu_count()} CPU cores, deadline {args.deadline:.0f} s each")
        if server:
            print(f"at launch: {server.figures(age)}")
        if args.warm_up:
            warm, _ = run_round(url, recordings[-args.warm_up:], args.deadline)
            report(f"warm-up ({args.warm_up} at once)", warm, 0)
            if server:
                print(f"warm: {server.figures(age)}")
        warm_rss, warm_fds = (server.rss_mb(), server.open_files()) if server else (None, None)
        if args.sessions:
            began = time.perf_counter()
            answered, not_answered = fresh_sessions(url, args.sessions, args.deadline)
            print(f"{args.sessions} fresh visits in {time.perf_counter() - began:.0f} s: {answered} answered, "
                  f"{not_answered} not")
            if server:
                print(f"after the visits: {server.figures(age)}")
        walls = []
        for r in range(args.rounds):
            outcomes, wall = run_round(url, recordings[r * args.users:(r + 1) * args.users], args.deadline,
                                       args.bypass, args.one_client)
            report(f"round {r + 1}", outcomes, wall)
            everyone += outcomes
            walls.append(wall)
        if args.rounds > 1:
            report("all rounds", everyone, statistics.median(walls))
        if server:
            print(f"at the end: {server.figures(age)}")
            if args.cache_age:
                settle = age + min(CACHE_SWEEP_S, age) + 5
                print(f"waiting {settle:.0f} s for the sweep…")
                time.sleep(settle)
                print(f"after the sweep: {server.figures(age)}")
            print(f"RSS {server.rss_mb():.0f} MB vs warm {warm_rss:.0f} MB "
                  f"({100 * (server.rss_mb() - warm_rss) / warm_rss:+.1f} %); open files {server.open_files()} "
                  f"vs warm {warm_fds}")
    finally:
        if server:
            cleanup(server)
    bad = sum(o.kind in ("failed", "hung") for o in everyone)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
