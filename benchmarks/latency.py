"""Time to first audio, as a gradio_client script feels it.

Launches the app (``python app.py``) on a free port on 127.0.0.1, asks a set of spoken questions, and for
each one times: the /ask call (upload, hearing, answering), then the /speak stream until its first audio
segment has been fetched. The questions: espeak-ng saying the example questions, or with ``--human LANG``
real human recordings of that language (``benchmarks/human_speech.py``). ``--language`` is what the client
sends (default: none, so the app's default, auto: the language told from the speech). Prints per-stage
medians and p95, the server's own hearing time (its log), and in which language each question was heard.

    .venv/bin/python benchmarks/latency.py [--rounds 3] [--human en|es|fr|it] [--count 10] [--language es]
        [--plot latency.png]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import QUESTIONS, cleanup, launch_app, percentile  # noqa: E402
from harness.audio_tools import SpeechMaker  # noqa: E402

REQUEST_TIMEOUT_S = 30


def first_segment(playlist_url: str) -> bytes:
    base = playlist_url.rsplit("/", 1)[0]
    playlist = httpx.get(playlist_url, timeout=REQUEST_TIMEOUT_S).text
    name = next(line for line in playlist.splitlines() if line and not line.startswith("#"))
    return httpx.get(f"{base}/{name}", timeout=REQUEST_TIMEOUT_S).content


def consult_once(client, wav: Path, language: str | None = None) -> dict[str, float]:
    from gradio_client import handle_file

    start = time.perf_counter()
    languages = () if language is None else (language,)
    _question, answer = client.predict(handle_file(str(wav)), *languages, api_name="/ask")
    asked = time.perf_counter()
    job = client.submit(answer, api_name="/speak")
    first_audio = None
    for update in job:
        if first_audio is None:
            segment = first_segment(update["url"])
            assert segment, "empty first segment"
            first_audio = time.perf_counter()
    done = time.perf_counter()
    return {
        "ask (upload + hear + answer)": (asked - start) * 1000,
        "speak: first segment fetched": (first_audio - asked) * 1000,
        "time to first audio": (first_audio - start) * 1000,
        "time to last audio": (done - start) * 1000,
    }


def server_hearings(log_path: Path) -> list[tuple[str, float]]:
    """(language, hearing ms) of every spoken question the server logged (``flow.log_request``)."""
    found = re.findall(r"spoken question \((\w+)\): hearing (\d+) ms", log_path.read_text(errors="replace"))
    return [(language, float(ms)) for language, ms in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked")
    parser.add_argument("--human", help="real human recordings of this language instead of espeak-ng")
    parser.add_argument("--count", type=int, default=10, help="with --human: how many recordings")
    parser.add_argument("--language", help="the language the client sends (default: none, i.e. auto)")
    parser.add_argument("--plot", type=Path, help="write a PNG of the per-stage medians")
    args = parser.parse_args()

    from gradio_client import Client

    if args.human:
        from benchmarks.human_speech import clips

        wavs = [clip.path for clip in clips(args.human, args.count)]
    else:
        speech = SpeechMaker(Path(tempfile.mkdtemp(prefix="latency-")))
        wavs = [speech.say(q) for q in QUESTIONS]
    app = launch_app()
    try:
        client = Client(app.url, verbose=False, download_files=False)
        consult_once(client, wavs[0], args.language)  # the first call opens connections; not counted
        runs = [consult_once(client, wav, args.language) for _ in range(args.rounds) for wav in wavs]
        hearings = server_hearings(app.log_path)[1:]
    finally:
        cleanup(app)

    print(f"{len(runs)} spoken questions ({args.human or 'espeak-ng'}, language sent: {args.language or 'none'}), "
          f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}")
    for stage in runs[0]:
        values = [run[stage] for run in runs]
        print(f"  {stage:32s} p50 {statistics.median(values):7.0f} ms   p95 {percentile(values, 0.95):7.0f} ms")
    if hearings:
        values = [ms for _language, ms in hearings]
        print(f"  {'server: hearing':32s} p50 {statistics.median(values):7.0f} ms   p95 "
              f"{percentile(values, 0.95):7.0f} ms")
        heard_in = collections.Counter(language for language, _ms in hearings)
        print("  heard as: " + ", ".join(f"{language} {count}" for language, count in heard_in.most_common()))
    if args.plot:
        plot(runs, args.plot)


def plot(runs: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = ["ask (upload + hear + answer)", "speak: first segment fetched"]
    medians = [statistics.median(run[s] for run in runs) for s in stages]
    figure, axis = plt.subplots(figsize=(7, 2.2))
    left = 0.0
    for stage, value, colour in zip(stages, medians, ["#6c5ce7", "#00b894"]):
        axis.barh(["time to first audio"], [value], left=left, color=colour, label=f"{stage}: {value:.0f} ms")
        left += value
    axis.set_xlabel("milliseconds (median)")
    axis.legend(loc="lower center", bbox_to_anchor=(0.5, 1.02), ncol=1, frameon=False)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    print(f"plot written to {path}")


if __name__ == "__main__":
    main()
