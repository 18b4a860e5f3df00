"""Time from pressing Stop to hearing the answer, as a user feels it in a real browser.

Launches the app (``python app.py``) on a free port on 127.0.0.1 and, for each spoken question (spoken by
the app's Piper voice, or espeak-ng), starts a fresh headless Chromium whose fake microphone plays that
question, opens the page, presses the page's own Record button, waits while the fake device plays the
question, and presses Stop. Everything is timed inside the page with ``performance.now()`` (listeners and
a MutationObserver installed before the page loads), from the Stop click to:

  heard        "You asked: …" appears (the recording was uploaded, queued and transcribed)
  answer       the answer text appears in the ball
  playing      the answer's <audio> element fires ``playing``
  first sound  that element's currentTime first moves past 0 (polled every 5 ms)

plus, from the page's resource timings, when the recording's upload, the two queue requests (think, then
speak), the HLS playlist and its first segment started or finished, and the server's own figures from
the page's timings line. One uncounted warm-up question comes first. Prints per-stage p50 and p95
(nearest rank: with 6 runs p95 is the slowest run), the gaps between stages, the CPU core count and the
load average; --verbose also prints each run's marks and its requests (start .. first byte .. end).

    .venv/bin/python benchmarks/browser_latency.py [--questions 6] [--voice piper|espeak] [--verbose]
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import QUESTIONS, cleanup, launch_app, percentile  # noqa: E402
from harness.audio_tools import SpeechMaker  # noqa: E402
from harness.browser_tools import browser_flags, find_chromium, microphone_wav  # noqa: E402

WAIT_MS = 30_000  # the longest any single step may take
LEAD_S = 0.3  # silence before the question in the fake microphone's file
AFTER_QUESTION_S = 0.6  # how long to keep recording after the question has been played

# Installed before any page script runs. Marks are milliseconds of performance.now(); each is the first
# time its condition held after the Stop click (stage marks: the first time that stage was shown).
PROBE = r"""
(() => {
  const bench = { stopAt: null, marks: {}, heard: null, answer: null };
  window.__bench = bench;
  const mark = (name) => {
    if (bench.stopAt !== null && !(name in bench.marks)) bench.marks[name] = performance.now();
  };
  // Capture phase on window: runs before the page's own handler of the same click.
  window.addEventListener('click', (event) => {
    const button = event.target instanceof Element && event.target.closest('#question-audio button');
    if (button && button.textContent.trim() === 'Stop' && bench.stopAt === null) bench.stopAt = performance.now();
  }, true);
  // Media events do not bubble, but they do pass the capture phase.
  for (const type of ['loadstart', 'loadedmetadata', 'canplay', 'play', 'playing']) {
    window.addEventListener(type, (event) => {
      if (event.target instanceof Element && event.target.closest('#answer-audio')) mark(type);
    }, true);
  }
  const look = () => {
    if (bench.stopAt === null) return;
    const stage = document.querySelector('#status [data-stage]');
    if (stage) mark('stage ' + stage.dataset.stage + (stage.classList.contains('failed') ? ' (failed)' : ''));
    const heard = document.querySelector('#heard .heard-line');
    if (heard && bench.heard === null) { mark('heard'); bench.heard = heard.textContent; }
    const ball = document.querySelector('#ball .oracle-ball.answered');
    if (ball && bench.answer === null) {
      mark('answer'); bench.answer = document.querySelector('#answer-text').textContent;
    }
    const audio = document.querySelector('#answer-audio audio');
    if (audio) mark('audio element');
    if (audio && audio.currentTime > 0) mark('first sound');
  };
  const start = () => {
    new MutationObserver(look).observe(document.documentElement,
      { subtree: true, childList: true, attributes: true, characterData: true });
    setInterval(look, 5);
  };
  if (document.documentElement) start(); else document.addEventListener('readystatechange', start, { once: true });
})();
"""

# The page's network requests after the Stop click, from its resource timings (ms of performance.now()).
RESOURCES = r"""
() => performance.getEntriesByType('resource')
  .filter((entry) => entry.startTime >= window.__bench.stopAt)
  .map((entry) => ({ name: entry.name, start: entry.startTime, first: entry.responseStart || null, end: entry.responseEnd }))
"""

# Stages as printed: (label, how to read it from one run's marks and resources).
STAGES = [
    ("stop -> upload sent", "upload start"),
    ("stop -> upload done", "upload end"),
    ("stop -> 2nd upload done", "2nd upload end"),
    ("stop -> think queued", "think join"),
    ("stop -> heard", "heard"),
    ("stop -> answer", "answer"),
    ("stop -> speak queued", "speak join"),
    ("stop -> playlist fetched", "playlist end"),
    ("stop -> 1st segment fetched", "segment end"),
    ("stop -> playing event", "playing"),
    ("stop -> first sound", "first sound"),
]
SERVER_FIGURES = ("hearing", "answering", "first audio")
# Where the time goes: the time between two marks, run by run.
GAPS = [
    ("Stop click -> upload sent (browser)", None, "upload start"),
    ("upload sent -> think queued", "upload start", "think join"),
    ("think queued -> heard", "think join", "heard"),
    ("heard -> answer", "heard", "answer"),
    ("answer -> speak queued", "answer", "speak join"),
    ("speak queued -> playlist asked", "speak join", "playlist start"),
    ("playlist asked -> 1st segment", "playlist start", "segment end"),
    ("1st segment -> first sound", "segment end", "first sound"),
]


def make_questions(texts: list[str], voice: str, directory: Path) -> list[tuple[str, Path, float]]:
    """Each question as the fake microphone's WAV, with the seconds of speech in it."""
    if voice == "piper":
        from oracle.audio import wav_bytes
        from oracle.speech.piper import PiperSpeaker

        speaker = PiperSpeaker()
    else:
        speech = SpeechMaker(directory)
    made = []
    for number, text in enumerate(texts):
        if voice == "piper":
            spoken = directory / f"question-{number}-piper.wav"
            spoken.write_bytes(wav_bytes(np.concatenate(list(speaker.stream(text))), speaker.sample_rate))
        else:
            spoken = speech.say(text)
        info = soundfile.info(spoken)
        made.append((text, microphone_wav(spoken, directory / f"microphone-{number}.wav", lead_s=LEAD_S),
                     info.frames / info.samplerate))
    return made


def resource_marks(resources: list[dict]) -> dict[str, float]:
    """The network stages: the upload(s), the first two queue joins (think, speak), the first HLS playlist and
    the first segment fetched from it."""
    marks = {}
    uploads = [r for r in resources if "/gradio_api/upload" in r["name"]]
    if uploads:
        marks["upload start"], marks["upload end"] = uploads[0]["start"], uploads[0]["end"]
    if len(uploads) > 1:  # Gradio 6.17 uploads the recording twice; the think request came after both, so far
        marks["2nd upload end"] = uploads[1]["end"]
    joins = sorted((r for r in resources if "/gradio_api/queue/join" in r["name"]), key=lambda r: r["start"])
    for name, join in zip(("think join", "speak join"), joins):
        marks[name] = join["start"]
    streams = [r for r in resources if "/gradio_api/stream/" in r["name"]]
    playlists = [r for r in streams if r["name"].split("?")[0].endswith(".m3u8")]
    segments = [r for r in streams if r not in playlists and "playlist" not in r["name"]]
    if playlists:
        marks["playlist start"], marks["playlist end"] = playlists[0]["start"], playlists[0]["end"]
    if segments:
        first = min(segments, key=lambda r: r["end"])
        marks["segment start"], marks["segment end"] = first["start"], first["end"]
    return marks


def server_figures(timings_text: str) -> dict[str, float]:
    """The server's own figures from the page's timings line: hearing, answering, first audio (ms)."""
    figures = {}
    for name in SERVER_FIGURES:
        found = re.search(rf"{name} (\d+) ms", timings_text)
        if found:
            figures[name] = float(found.group(1))
    return figures


def ask_once(playwright, chromium: str, url: str, question: str, wav: Path, speech_s: float,
             verbose: bool) -> dict:
    """One question in a fresh browser; every stage's milliseconds after the Stop click."""
    browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=browser_flags(wav),
                                         timeout=WAIT_MS)
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(WAIT_MS)
        context.add_init_script(PROBE)
        page = context.new_page()
        page.goto(url, wait_until="load")
        page.wait_for_selector('#status [data-stage="ready"]')
        page.evaluate("() => performance.setResourceTimingBufferSize(2000)")
        microphone = page.locator("#question-audio")
        microphone.get_by_role("button", name="Record").click()
        page.wait_for_selector('#status [data-stage="listening"]')
        page.wait_for_timeout((LEAD_S + speech_s + AFTER_QUESTION_S) * 1000)
        microphone.get_by_role("button", name="Stop").click()
        page.wait_for_function("() => window.__bench.stopAt !== null", timeout=5_000)
        page.wait_for_function("() => 'first sound' in window.__bench.marks"
                               " || Object.keys(window.__bench.marks).some((m) => m.includes('failed'))")
        if "first sound" in page.evaluate("() => window.__bench.marks"):
            page.wait_for_selector('#status [data-stage="done"]')  # the whole answer has played
        bench = page.evaluate("() => window.__bench")
        resources = page.evaluate(RESOURCES)
        timings_text = page.locator("#timings").inner_text()
    finally:
        browser.close()
    stop = bench["stopAt"]
    marks = {name: at - stop for name, at in bench["marks"].items()}
    marks.update({name: at - stop for name, at in resource_marks(resources).items()})
    run = {"question": question, "heard_text": (bench["heard"] or "").strip(),
           "answer_text": (bench["answer"] or "").strip(), "marks": marks,
           "server": server_figures(timings_text)}
    if verbose:
        print(f"\n  {question!r}: {run['heard_text']} -> {run['answer_text']!r}")
        for name, at in sorted(marks.items(), key=lambda item: item[1]):
            print(f"    {at:7.0f} ms  {name}")
        for resource in sorted(resources, key=lambda r: r["start"]):
            path = resource["name"].split("127.0.0.1", 1)[-1].split(":", 1)[-1]
            first = "      -" if resource["first"] is None else f"{resource['first'] - stop:7.0f}"
            print(f"    {resource['start'] - stop:7.0f} .. {first} .. "
                  f"{resource['end'] - stop:7.0f} ms  {path[:90]}")
        print(f"    server: {run['server']}")
    return run


def report(runs: list[dict]) -> None:
    width = max(len(label) for label, *_ in STAGES + GAPS) + 4
    for label, key in STAGES:
        values = [run["marks"][key] for run in runs if key in run["marks"]]
        if values:
            missing = "" if len(values) == len(runs) else f"   (in {len(values)} of {len(runs)} runs)"
            print(f"  {label:{width}s} p50 {statistics.median(values):6.0f} ms   p95 {percentile(values, 0.95):6.0f} ms"
                  f"{missing}")
    print("  where the time goes (between two marks, run by run):")
    for label, since, until in GAPS:
        values = [run["marks"][until] - (run["marks"][since] if since else 0.0) for run in runs
                  if until in run["marks"] and (since is None or since in run["marks"])]
        if values:
            print(f"  {'  ' + label:{width}s} p50 {statistics.median(values):6.0f} ms   "
                  f"p95 {percentile(values, 0.95):6.0f} ms")
    print("  the server's own figures (from the page's timings line):")
    for name in SERVER_FIGURES:
        values = [run["server"][name] for run in runs if name in run["server"]]
        if values:
            print(f"  {'  ' + name:{width}s} p50 {statistics.median(values):6.0f} ms   "
                  f"p95 {percentile(values, 0.95):6.0f} ms")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=6, help="spoken questions to time (default 6)")
    parser.add_argument("--voice", choices=("piper", "espeak"), default="piper",
                        help="who speaks the questions: the app's Piper voice (default; Whisper tiny hears it "
                             "right) or espeak-ng (robotic; often misheard)")
    parser.add_argument("--verbose", action="store_true", help="print each run's timeline and requests")
    args = parser.parse_args()

    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found: run `bash setup.sh`, or set CHROMIUM=/path/to/chromium")
    texts = list(itertools.islice(itertools.cycle(QUESTIONS), args.questions + 1))  # +1: the warm-up
    questions = make_questions(texts, args.voice, Path(tempfile.mkdtemp(prefix="browser-latency-")))

    load_before = load_average()
    app = launch_app()
    runs, failures = [], []
    try:
        with sync_playwright() as playwright:
            url = app.url
            for number, (text, wav, speech_s) in enumerate(questions):
                try:
                    run = ask_once(playwright, chromium, url, text, wav, speech_s, args.verbose)
                except PlaywrightError as error:  # a timeout included: note it, go on with the next
                    failures.append(f"{text!r}: {str(error).splitlines()[0]}")
                    print(f"  run failed: {failures[-1]}", file=sys.stderr)
                    continue
                if "first sound" not in run["marks"]:
                    failures.append(f"{text!r}: no sound ({sorted(run['marks'])})")
                    continue
                if number > 0:  # the first question warms up the server's and browser's paths
                    runs.append(run)
    finally:
        cleanup(app)
    load_after = load_average()

    print(f"\n{len(runs)} spoken questions ({args.voice}) in headless Chromium, one fresh browser each, "
          f"{os.cpu_count()} CPU cores; load average {load_before} before, {load_after} after")
    for run in runs:
        print(f"  asked {run['question']!r}  heard {run['heard_text']!r}")
    if failures:
        print(f"  {len(failures)} failed: " + "; ".join(failures))
    if not runs:
        raise SystemExit("no run succeeded")
    report(runs)


if __name__ == "__main__":
    main()
