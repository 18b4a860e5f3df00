"""Time from the end of a spoken question to hearing the answer, as a user feels it in a real browser.

Launches the app (``python app.py``) on a free port on 127.0.0.1 and, for each spoken question, starts a
fresh headless Chromium whose fake microphone plays that question, opens the page and presses the page's
own Record button. The microphone streams to the server while the question plays. Two modes:

  push       (default) Stop is pressed ``--after`` seconds (0.6) after the question's speech ends
  hands-free the "Hands-free" switch is on and nobody presses Stop: the page does, at the end of speech

The questions: the app's Piper voice (or espeak-ng) saying the example questions, ``--audio WAV`` (any
recording, human speech included; repeat it for several), or ``--human LANG`` (real human recordings from
``benchmarks/human_speech.py``, each asked in a browser in its language; repeat it to mix languages). Everything is timed inside the page with
``performance.now()`` (listeners installed before the page loads), from the Stop click (and, in hands-free
mode, from the end of the speech: when the fake microphone opened plus where the file's speech ends, by the
VAD) to:

  heard        "You asked: …" appears
  answer       the answer text appears in the ball
  playing      the answer's <audio> element fires ``playing``
  first sound  that element's currentTime first moves past 0 (polled every 5 ms)

plus, from the page's resource timings, the last chunk of audio uploaded, the queue requests after Stop
(think, then speak), the HLS playlist and its first segment, the player's own steps (hls.js's ``play()``
call, its first append to the MediaSource), and the server's own figures from the page's timings line (final
hearing, answering, first chunk). It counts silent answers (the stage says "speaking" and nothing plays for
20 s) and, from the speaking step's log line, how often the voice played was the one prepared at the pause. One uncounted warm-up question comes first. Word
errors: what the streamed path heard against what the upload path (``/ask``, the same recording) hears, and
each against the text spoken when it is known. Prints per-stage p50 and p95 (nearest rank), the CPU core
count and the load average; --verbose also prints each run's marks and its requests.

    .venv/bin/python benchmarks/browser_latency.py [--questions 6] [--voice piper|espeak] [--audio WAV ...]
        [--human en --human es] [--mode push|hands-free] [--after 0.6] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import itertools
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import QUESTIONS, cleanup, launch_app, percentile  # noqa: E402
from harness.audio_tools import SpeechMaker  # noqa: E402
from harness.browser_tools import browser_flags, find_chromium, microphone_wav  # noqa: E402
from harness.live_browser import recorder_button  # noqa: E402
from oracle.web.gradio_adapter.page import STREAMING_RECORDER_BUTTONS  # noqa: E402
from oracle.languages import ENGLISH  # noqa: E402

WAIT_MS = 30_000  # the longest any single step may take
# Silence before the question in the fake microphone's file: a person waits for "Listening" (the server has
# the first chunk; Gradio drops what comes before) before speaking.
LEAD_S = 1.0
TAIL_S = 12.0  # silence after it (the fake microphone loops the file)

# Installed before any page script runs. Marks are milliseconds of performance.now(); each is the first
# time its condition held after the Stop click (stage marks: the first time that stage was shown).
PROBE = r"""
(() => {
  const bench = { stopAt: null, microphoneAt: null, listeningAt: null, marks: {}, heard: null, answer: null,
                  pageScript: false };
  window.__bench = bench;
  // The page's own script (oracle/web/page.js) is running once it watches the page for the end of speech.
  const Observer = window.MutationObserver;
  window.MutationObserver = class extends Observer {
    observe(target, options) {
      if (options && options.attributeFilter && options.attributeFilter.includes('data-ended')) bench.pageScript = true;
      return super.observe(target, options);
    }
  };
  // When the fake microphone opened: it starts playing its file from the beginning then.
  const media = navigator.mediaDevices;
  if (media && media.getUserMedia) {
    const open = media.getUserMedia.bind(media);
    media.getUserMedia = async (constraints) => {
      const stream = await open(constraints);
      if (bench.microphoneAt === null) bench.microphoneAt = performance.now();
      return stream;
    };
  }
  const mark = (name) => {
    if (bench.stopAt !== null && !(name in bench.marks)) bench.marks[name] = performance.now();
  };
  // Capture phase on window: runs before the page's own handler of the same click.
  window.addEventListener('click', (event) => {
    const button = event.target instanceof Element && event.target.closest('#question-audio button');
    if (button && button.matches(__STOP__) && bench.stopAt === null) bench.stopAt = performance.now();
  }, true);
  // The player's own steps: hls.js calls play() once the playlist is parsed, then appends the first segment
  // (transmuxed to fragmented MP4) to the MediaSource.
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    if (this.closest && this.closest('#answer-audio')) mark('play() called');
    return play.call(this);
  };
  if (window.SourceBuffer) {
    const append = SourceBuffer.prototype.appendBuffer;
    SourceBuffer.prototype.appendBuffer = function (data) { mark('first append'); return append.call(this, data); };
  }
  // Media events do not bubble, but they do pass the capture phase.
  for (const type of ['loadstart', 'loadedmetadata', 'canplay', 'play', 'playing']) {
    window.addEventListener(type, (event) => {
      if (event.target instanceof Element && event.target.closest('#answer-audio')) mark(type);
    }, true);
  }
  const look = () => {
    // The server has taken the first chunk of audio: from here on nothing said is lost.
    const live = document.querySelector('#live .live-words');
    if (bench.listeningAt === null && live && Number(live.dataset.seconds) > 0) bench.listeningAt = performance.now();
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
""".replace("__STOP__", json.dumps(STREAMING_RECORDER_BUTTONS["stop"]))

# The page's network requests since the microphone opened, from its resource timings (ms of performance.now()).
RESOURCES = r"""
() => performance.getEntriesByType('resource')
  .filter((entry) => entry.startTime >= window.__bench.microphoneAt)
  .map((entry) => ({ name: entry.name, start: entry.startTime, first: entry.responseStart || null, end: entry.responseEnd }))
"""

# Stages as printed: (label, how to read it from one run's marks, which are ms after the Stop click).
STAGES = [
    ("end of speech -> stop (the pause)", "stop since end of speech"),
    ("end of speech -> first sound", "first sound since end of speech"),
    ("stop -> last audio sent", "last audio sent"),
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
# Where the time goes after Stop: the time between two marks, run by run.
GAPS = [
    ("Stop click -> think queued (browser)", None, "think join"),
    ("think queued -> answer shown", "think join", "answer"),
    ("answer -> speak queued", "answer", "speak join"),
    ("speak queued -> playlist requested", "speak join", "playlist start"),
    ("playlist requested -> first sound (player)", "playlist start", "first sound"),
    ("  playlist fetch", "playlist start", "playlist end"),
    ("  playlist -> play() called", "playlist end", "play() called"),
    ("  playlist -> segment requested", "playlist end", "segment start"),
    ("  segment fetch", "segment start", "segment end"),
    ("  segment -> first append (transmux)", "segment end", "first append"),
    ("  first append -> playing (decode)", "first append", "playing"),
    ("  playing -> first sound", "playing", "first sound"),
]
# An answer whose stage says "speaking" and whose player stays silent this long is counted as silent.
SILENT_AFTER_MS = 20_000
LOCALES = {"en": None, "es": "es-ES", "fr": "fr-FR", "it": "it-IT"}  # the browser's language for each


def speech_end_s(path: Path) -> float:
    """Where the speech in a recording ends (seconds from its start), by the app's own VAD."""
    from oracle.audio import SAMPLE_RATE, mix_to_mono, read_channels
    from oracle.endpointing import Endpointer

    channels, rate = read_channels(path)
    endpointer = Endpointer()
    endpointer.feed(mix_to_mono(soxr.resample(channels, rate, SAMPLE_RATE)).astype(np.float32))
    if endpointer.speech_end_sample is None:
        raise SystemExit(f"no speech found in {path}")
    return endpointer.speech_end_sample / 16_000


def make_questions(texts: list[str], voice: str, directory: Path) -> list[tuple]:
    """Each question as ``question_from`` makes it."""
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
            spoken.write_bytes(wav_bytes(np.concatenate(list(speaker.stream(text, ENGLISH))), speaker.sample_rate))
        else:
            spoken = speech.say(text)
        made.append(question_from(text, spoken, directory / f"microphone-{number}.wav"))
    return made


def question_from(text: str | None, recording: Path, target: Path,
                  locale: str | None = None) -> tuple[str | None, Path, Path, float, str | None]:
    """(its text, the recording, the fake microphone's WAV, where its speech ends in that WAV, the browser's
    language to ask it in)."""
    wav = microphone_wav(recording, target, lead_s=LEAD_S, tail_s=TAIL_S)
    return text, recording, wav, speech_end_s(wav), locale


def human_questions(languages: list[str], count: int, directory: Path) -> list[tuple]:
    """``count`` real human recordings (benchmarks/human_speech.py), the languages taken in turn, each asked in
    a browser in its language; English starts with docs/question.wav."""
    from benchmarks.human_speech import clips

    pools = {}
    for language in languages:
        found = [(clip.text, clip.path) for clip in clips(language, count)]
        if language == "en":
            found.insert(0, ("Should I learn to play the piano?", ROOT / "docs" / "question.wav"))
        pools[language] = itertools.cycle(found)
    questions = []
    for number in range(count):
        language = languages[number % len(languages)]
        text, path = next(pools[language])
        questions.append(question_from(text, path, directory / f"microphone-{number}.wav", LOCALES.get(language)))
    return questions


def resource_marks(resources: list[dict], stop: float) -> dict[str, float]:
    """The network stages (absolute ms): the last chunk of microphone audio sent (POST /stream/<event>), the
    queue joins after Stop (think, then speak), the first HLS playlist and its first segment."""
    marks = {}
    paths = [(r, r["name"].split("/gradio_api", 1)[-1].split("?")[0]) for r in resources]
    sent = [r for r, path in paths if re.fullmatch(r"/stream/[^/]+", path)]
    if sent:
        marks["last audio sent"] = max(r["end"] for r in sent)
    joins = sorted((r for r, path in paths if path == "/queue/join" and r["start"] >= stop), key=lambda r: r["start"])
    playlists = [r for r, path in paths if re.fullmatch(r"/stream/[^/]+/[^/]+/[^/]+/playlist\.m3u8", path)
                 and r["start"] >= stop]
    if joins:
        marks["think join"] = joins[0]["start"]
    # The speaking step: the last join before the answer's playlist (the old player's stop event joins too).
    before_playlist = [j for j in joins[1:] if not playlists or j["start"] < playlists[0]["start"]]
    if before_playlist:
        marks["speak join"] = before_playlist[-1]["start"]
    segments = [r for r, path in paths if re.fullmatch(r"/stream/[^/]+/[^/]+/[^/]+/[^/]+\.(aac|mp3|ts|m4s)", path)
                and r["start"] >= stop]
    if playlists:
        marks["playlist start"], marks["playlist end"] = playlists[0]["start"], playlists[0]["end"]
    if segments:
        first = min(segments, key=lambda r: r["end"])
        marks["segment start"], marks["segment end"] = first["start"], first["end"]
    return marks


def voice_was_prepared(server_log: Path, offset: int) -> tuple[bool | None, str | None]:
    """Whether the speaking step's log line (oracle.web.flow) since ``offset`` says it streamed the voice
    prepared at the pause (None when the step logged nothing), and if not, why not."""
    with server_log.open("rb") as log:
        log.seek(offset)
        lines = log.read().decode("utf-8", "replace").splitlines()
    spoken = [found for line in lines if (found := re.search(r"speak \((\w+)(, prepared)?\): first audio", line))]
    why_not = [line.split("no voice prepared for this answer", 1)[1].strip(" ()") for line in lines
               if "no voice prepared for this answer" in line]
    return (bool(spoken[-1].group(2)) if spoken else None), (why_not[-1] if why_not else None)


def server_figures(timings_text: str) -> dict[str, float]:
    """The server's own figures from the page's timings line: hearing, answering, first audio (ms)."""
    figures = {}
    for name in SERVER_FIGURES:
        found = re.search(rf"{name} (\d+) ms", timings_text)
        if found:
            figures[name] = float(found.group(1))
    return figures


def ask_once(playwright, chromium: str, url: str, question: tuple, mode: str, after_s: float,
             verbose: bool, locale: str | None = None, server_log: Path | None = None) -> dict:
    """One question in a fresh browser (in the question's language, else ``locale``'s, if given); every
    stage's milliseconds after the Stop click. ``server_log``: the app's log, whose lines written meanwhile
    say whether the voice played was the one prepared at the pause."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    text, _recording, wav, speech_end, question_locale = question
    locale = question_locale or locale
    log_offset = server_log.stat().st_size if server_log else 0
    silent = False
    flags = browser_flags(wav) + ([f"--lang={locale}"] if locale else [])
    browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=flags, timeout=WAIT_MS)
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, **({"locale": locale} if locale else {}))
        context.set_default_timeout(WAIT_MS)
        context.add_init_script(PROBE)
        page = context.new_page()
        page.goto(url, wait_until="load")
        page.wait_for_selector('#status [data-stage="ready"]')
        page.wait_for_function("() => window.__bench.pageScript")
        page.evaluate("() => performance.setResourceTimingBufferSize(2000)")
        if mode == "hands-free":
            page.locator("#hands-free input[type=checkbox]").check()
        recorder_button(page, "record").click()
        page.wait_for_function("() => window.__bench.microphoneAt !== null")
        if mode == "push":
            # A person presses Stop a moment after they finish speaking.
            stop_at = page.evaluate("() => window.__bench.microphoneAt") + (speech_end + after_s) * 1000
            page.wait_for_function("(at) => performance.now() >= at", arg=stop_at, polling=10)
            recorder_button(page, "stop").click()
        page.wait_for_function("() => window.__bench.stopAt !== null")
        page.wait_for_function("() => 'stage speaking' in window.__bench.marks"
                               " || Object.keys(window.__bench.marks).some((m) => m.includes('failed'))")
        try:
            page.wait_for_function("() => 'first sound' in window.__bench.marks"
                                   " || Object.keys(window.__bench.marks).some((m) => m.includes('failed'))",
                                   timeout=SILENT_AFTER_MS)
        except PlaywrightTimeout:
            silent = True  # the stage says "speaking" and nothing plays
        if "first sound" in page.evaluate("() => window.__bench.marks"):  # let the whole answer play
            page.wait_for_function("() => document.querySelector('#answer-audio audio')?.ended === true"
                                   " || document.querySelector('#status [data-stage=\"done\"]') !== null")
            page.wait_for_selector('#status [data-stage="done"]')  # the speaking step has ended (and logged)
        bench = page.evaluate("() => window.__bench")
        asked = page.locator("#heard .heard-edit")  # what was heard, without the page's words around it
        heard_question = asked.get_attribute("data-question") if asked.count() else None
        resources = page.evaluate(RESOURCES)
        timings_text = page.locator("#timings").inner_text()
    finally:
        browser.close()
    stop = bench["stopAt"]
    marks = {name: at - stop for name, at in bench["marks"].items()}
    marks.update({name: at - stop for name, at in resource_marks(resources, stop).items()})
    end_of_speech = bench["microphoneAt"] + speech_end * 1000 - stop  # ms after Stop (negative: before)
    marks["stop since end of speech"] = -end_of_speech
    # Gradio drops the microphone's audio until the server has taken the first chunk: speech before that is lost.
    opened_s = (bench["listeningAt"] - bench["microphoneAt"]) / 1000 if bench["listeningAt"] else None
    if "first sound" in marks:
        marks["first sound since end of speech"] = marks["first sound"] - end_of_speech
    heard = heard_question or (bench["heard"] or "").strip().removeprefix("You asked:").strip().strip("“”")
    run = {"question": text, "wav": wav, "heard_text": heard,
           "answer_text": (bench["answer"] or "").strip(), "marks": marks,
           "server": server_figures(timings_text), "listening_after_s": opened_s,
           "spoke_too_early": opened_s is None or opened_s > LEAD_S, "silent": silent, "locale": locale,
           "prepared": None, "not_prepared_because": None}
    if server_log:
        run["prepared"], run["not_prepared_because"] = voice_was_prepared(server_log, log_offset)
    if verbose:
        print(f"\n  {text or wav.name!r}: {run['heard_text']!r} -> {run['answer_text']!r}")
        for name, at in sorted(marks.items(), key=lambda item: item[1]):
            print(f"    {at:7.0f} ms  {name}")
        for resource in sorted(resources, key=lambda r: r["start"]):
            path = resource["name"].split("127.0.0.1", 1)[-1].split(":", 1)[-1]
            first = "      -" if resource["first"] is None else f"{resource['first'] - stop:7.0f}"
            print(f"    {resource['start'] - stop:7.0f} .. {first} .. "
                  f"{resource['end'] - stop:7.0f} ms  {path[:90]}")
        print(f"    server: {run['server']}")
    return run


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word-level edit distance, words in the reference)."""
    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1], len(ref)


def upload_path_heard(url: str, recording: Path) -> str:
    """What the upload path (the ``/ask`` endpoint) hears in the same recording."""
    from gradio_client import Client, handle_file

    question, _answer = Client(url, verbose=False).predict(handle_file(str(recording)), api_name="/ask")
    return question


def report_word_errors(runs: list[dict], url: str) -> None:
    totals = {"streamed vs upload": [0, 0], "streamed vs spoken text": [0, 0], "upload vs spoken text": [0, 0]}
    for run in runs:
        upload = upload_path_heard(url, run["wav"])
        pairs = {"streamed vs upload": (upload, run["heard_text"])}
        if run["question"]:
            pairs["streamed vs spoken text"] = (run["question"], run["heard_text"])
            pairs["upload vs spoken text"] = (run["question"], upload)
        for name, (reference, hypothesis) in pairs.items():
            errors, count = word_errors(reference, hypothesis)
            totals[name][0] += errors
            totals[name][1] += count
        print(f"  streamed {run['heard_text']!r}  upload {upload!r}")
    print("  word errors:")
    for name, (errors, count) in totals.items():
        if count:
            print(f"    {name:26s} {errors} in {count} words ({100 * errors / count:.1f} %)")


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
    parser.add_argument("--audio", type=Path, action="append", default=[],
                        help="a recording to ask instead (any WAV, human speech included); repeat for several; "
                             "each is asked --questions times in turn")
    parser.add_argument("--mode", choices=("push", "hands-free"), default="push",
                        help="push: Stop pressed --after s after the speech ends; hands-free: the page stops")
    parser.add_argument("--after", type=float, default=0.6, help="push mode: seconds from end of speech to Stop")
    parser.add_argument("--locale", help="the browser's language, e.g. es-ES (the page's Auto hears it): for "
                                         "--audio questions in another language than English")
    parser.add_argument("--human", action="append", default=[], choices=sorted(LOCALES),
                        help="ask real human recordings of this language (benchmarks/human_speech.py; English "
                             "starts with docs/question.wav), each in a browser in its language; repeat to mix "
                             "languages, taken in turn")
    parser.add_argument("--verbose", action="store_true", help="print each run's timeline and requests")
    args = parser.parse_args()

    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found: run `bash setup.sh`, or set CHROMIUM=/path/to/chromium")
    directory = Path(tempfile.mkdtemp(prefix="browser-latency-"))
    if args.human:
        questions = human_questions(args.human, args.questions + 1, directory)  # +1: the warm-up
        source = "human speech: " + ", ".join(args.human)
    elif args.audio:
        recordings = [question_from(None, path, directory / f"microphone-{n}.wav") for n, path in enumerate(args.audio)]
        questions = list(itertools.islice(itertools.cycle(recordings), args.questions + 1))  # +1: the warm-up
        source = f"{len(args.audio)} recording(s)"
    else:
        texts = list(itertools.islice(itertools.cycle(QUESTIONS), args.questions + 1))
        questions = make_questions(texts, args.voice, directory)
        source = args.voice

    load_before = load_average()
    app = launch_app()
    runs, failures, silent = [], [], []
    try:
        with sync_playwright() as playwright:
            for number, question in enumerate(questions):
                label = question[0] or question[1].name
                try:
                    run = ask_once(playwright, chromium, app.url, question, args.mode, args.after, args.verbose,
                                   args.locale, app.log_path)
                except PlaywrightError as error:  # a timeout included: note it, go on with the next
                    failures.append(f"{label!r}: {str(error).splitlines()[0]}")
                    print(f"  run failed: {failures[-1]}", file=sys.stderr)
                    continue
                if number == 0:  # the first question warms up the server's and browser's paths
                    continue
                if run["silent"]:
                    silent.append(label)
                elif "first sound" not in run["marks"]:
                    failures.append(f"{label!r}: no answer ({sorted(run['marks'])})")
                    continue
                runs.append(run)
        load_after = load_average()
        print(f"\n{len(runs)} spoken questions ({source}, {args.mode}) in headless Chromium, one fresh browser each, "
              f"{os.cpu_count()} CPU cores; load average {load_before} before, {load_after} after")
        for run in runs:
            print(f"  asked {run['question'] or run['wav'].name!r} ({run['locale'] or 'en-US'})  "
                  f"heard {run['heard_text']!r}{'  SILENT' if run['silent'] else ''}")
        if failures:
            print(f"  {len(failures)} failed: " + "; ".join(failures))
        answered = [run for run in runs if not run["silent"]]
        if not answered:
            raise SystemExit("no run succeeded")
        print(f"  silent answers (stage 'speaking', no sound in {SILENT_AFTER_MS / 1000:.0f} s): {len(silent)} of "
              f"{len(runs)}")
        prepared = [run for run in runs if run["prepared"]]
        reasons = [run["not_prepared_because"] for run in runs if run["not_prepared_because"]]
        print(f"  the voice prepared at the pause played: {len(prepared)} of {len(runs)} "
              f"(unknown: {sum(run['prepared'] is None for run in runs)}; the others: "
              f"{ {reason: reasons.count(reason) for reason in sorted(set(reasons))} })")
        report(answered)
        for label, group in (("prepared voice", [run for run in answered if run["prepared"]]),
                             ("voice made after Stop", [run for run in answered if run["prepared"] is False])):
            values = [run["marks"]["first sound"] for run in group]
            if values:
                print(f"  stop -> first sound, {label} ({len(values)} runs): p50 {statistics.median(values):6.0f} ms"
                      f"   p95 {percentile(values, 0.95):6.0f} ms")
        opened = [run["listening_after_s"] * 1000 for run in answered if run["listening_after_s"] is not None]
        if opened:
            early = sum(run["spoke_too_early"] for run in runs)
            print(f"  Record -> server has audio ('Listening')  p50 {statistics.median(opened):6.0f} ms   "
                  f"p95 {percentile(opened, 0.95):6.0f} ms   (speech began before it in {early} of {len(runs)} runs: "
                  "its start was not heard)")
        report_word_errors(answered, app.url)
    finally:
        cleanup(app)


if __name__ == "__main__":
    main()
