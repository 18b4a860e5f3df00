"""Endurance: many consultations in a row against one server; does it leak memory or files?

Launches the app (``python app.py``) on 127.0.0.1 with its own Gradio cache and temporary directory,
warms it up, then runs ``--consultations`` (default 200) spoken consultations one after another: /ask
with a fresh recording (a new upload each time) and /speak with the whole HLS stream fetched. Prints the
server's RSS and the size of its temporary files at the start, every ``--every`` consultations and at
the end. Targets: RSS growth <= 10 %, temporary files not growing.

    .venv/bin/python benchmarks/soak.py [--consultations 200] [--warm-up 20] [--cache-age 120]

``--cache-age`` sets ORACLE_CACHE_MAX_AGE for the server: files older than that are swept from the
cache (the app's default sweep is printed at the start), so a run of a few minutes shows the sweep at
work; leave it out to soak with the app's defaults.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import cleanup, follow_stream, launch_app, unique_recordings  # noqa: E402

CONSULTATION_TIMEOUT_S = 120


def consult(client, http: httpx.Client, recording: Path) -> float:
    """One spoken consultation, start to last audio; returns seconds."""
    from gradio_client import handle_file

    start = time.perf_counter()
    deadline = time.monotonic() + CONSULTATION_TIMEOUT_S
    _question, answer = client.submit(handle_file(str(recording)), api_name="/ask").result(
        timeout=CONSULTATION_TIMEOUT_S)
    job = client.submit(answer, api_name="/speak")
    final = job.result(timeout=max(1.0, deadline - time.monotonic()))  # a generator's last update
    url = final["url"]
    stream = follow_stream(url, deadline, http)
    if not stream.segments:
        raise RuntimeError("an answer without audio")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consultations", type=int, default=200)
    parser.add_argument("--every", type=int, default=25, help="print a sample every N consultations")
    parser.add_argument("--cache-age", type=int, help="ORACLE_CACHE_MAX_AGE for the server, in seconds")
    parser.add_argument("--warm-up", type=int, default=20,
                        help="consultations before the start figures (the engines' native allocators grow "
                             "during the first ~20 and then level off)")
    args = parser.parse_args()

    from gradio_client import Client

    import app as oracle_app

    env = {}
    if args.cache_age:
        env["ORACLE_CACHE_MAX_AGE"] = str(args.cache_age)
    warm_up = args.warm_up
    recordings = unique_recordings(Path(tempfile.mkdtemp(prefix="soak-questions-")), args.consultations + warm_up)
    server = launch_app(env)
    failures = 0
    durations: list[float] = []
    try:
        client = Client(server.url, verbose=False, download_files=False, httpx_kwargs={"timeout": 30})
        http = httpx.Client(timeout=30)
        launched_rss = server.rss_mb()
        for recording in recordings[:warm_up]:
            consult(client, http, recording)
        sweep, age = oracle_app.cache_sweep_settings(env.get("ORACLE_CACHE_MAX_AGE"))
        print(f"soak: {args.consultations} spoken consultations in a row after {warm_up} warm-up ones; "
              f"cache sweep every {sweep} s of files older than {age} s")
        print(f"RSS just after launch {launched_rss:.1f} MB; the figures below start after the warm-up")
        start_rss = server.rss_mb()
        start_files = server.temp_files()
        began = time.monotonic()
        print(f"{'done':>6} {'elapsed':>8} {'RSS MB':>8} {'temp files':>11} {'temp MB':>8}")
        print(f"{0:6d} {0:7.0f}s {start_rss:8.1f} {start_files[0]:11d} {start_files[1]:8.2f}")
        for i, recording in enumerate(recordings[warm_up:], start=1):
            try:
                durations.append(consult(client, http, recording))
            except Exception as error:  # counted and shown; the soak goes on
                failures += 1
                print(f"  consultation {i} failed: {type(error).__name__}: {error}")
            if i % args.every == 0 or i == args.consultations:
                files = server.temp_files()
                print(f"{i:6d} {time.monotonic() - began:7.0f}s {server.rss_mb():8.1f} {files[0]:11d} "
                      f"{files[1]:8.2f}")
        end_rss = server.rss_mb()
        end_files = server.temp_files()
        print(f"RSS: start {start_rss:.1f} MB, end {end_rss:.1f} MB, growth "
              f"{100 * (end_rss - start_rss) / start_rss:+.1f} %")
        print(f"temporary files: start {start_files[0]} files / {start_files[1]:.2f} MB, "
              f"end {end_files[0]} files / {end_files[1]:.2f} MB")
        if durations:
            print(f"consultation (upload to last audio): median {statistics.median(durations):.2f} s, "
                  f"max {max(durations):.2f} s")
        print(f"failed: {failures}")
    finally:
        cleanup(server)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
