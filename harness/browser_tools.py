"""Driving the app in a real headless Chromium (Playwright for Python with the system browser).

Chromium's fake microphone plays a WAV file in a loop; ``--autoplay-policy`` lets the answer play
without a click; the rest of the flags keep a headless browser quiet on a machine without a network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

TIMEOUT_S = 30
# Debian's chromium; CHROMIUM=/path/to/chrome picks another build of Chromium or Chrome.
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
QUIET_FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def find_chromium() -> str | None:
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    return next((path for name in CHROMIUM_CANDIDATES if (path := shutil.which(name))), None)


def browser_flags(microphone_wav: Path) -> list[str]:
    return QUIET_FLAGS + [
        "--use-fake-ui-for-media-stream",  # grant the microphone without asking
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone_wav}",
        "--autoplay-policy=no-user-gesture-required",
    ]


MICROPHONE_TAIL_S = 4.0  # silence after the question in the fake microphone's file


def microphone_wav(speech_wav: Path, target: Path, lead_s: float = 1.5, tail_s: float = MICROPHONE_TAIL_S) -> Path:
    """``speech_wav`` as Chromium's fake microphone likes it: 48 kHz mono 16-bit PCM, with silence
    before and after. Chromium starts the file when the page opens the microphone (on Record) and
    loops it: the long silence after the question keeps a recording from hearing it twice."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(speech_wav),
                    "-af", f"adelay={int(lead_s * 1000)},apad=pad_dur={tail_s}",
                    "-ar", "48000", "-ac", "1", "-c:a", "pcm_s16le", str(target)], check=True, timeout=TIMEOUT_S)
    return target


class QueueGate:
    """Holds the page's requests to Gradio's queue until the ``with`` block ends, so that a stage the
    page shows for a mere moment (the server is quick) stays on screen long enough to photograph."""

    PATTERN = "**/gradio_api/queue/join*"

    def __init__(self, page):
        self.page = page
        self.held = []
        self.closed = True

    def __enter__(self) -> "QueueGate":
        self.page.route(self.PATTERN, self._handle)
        return self

    def _handle(self, route) -> None:
        if self.closed:
            self.held.append(route)
        else:
            route.continue_()

    def wait_until_holding(self, timeout_s: float = TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.held:
            if time.monotonic() > deadline:
                raise TimeoutError("the page sent no request to the queue")
            self.page.wait_for_timeout(50)

    def __exit__(self, *_exc) -> None:
        self.closed = False
        for route in self.held:
            route.continue_()
        self.page.unroute(self.PATTERN, self._handle)


# Gradio 6.17's AudioPlayer builds a WaveSurfer waveform in onMount even for a streamed value, whose
# waveform container it never renders (use_waveform is false for streams), so WaveSurfer throws
# "Container not found" each time a stream player mounts. It is Gradio's, and harmless: the player's
# <audio> element and its HLS stream are set up by separate effects (the tests hear the answer play).
# Only this exact error, thrown from WaveSurfer's container lookup, is tolerated.
GRADIO_STREAM_WAVEFORM_ERROR = ("Container not found", "parentFromOptionsContainer")


class PageErrors:
    """Every uncaught error and unhandled rejection in a page, with its stack; ``check()`` fails on any."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("pageerror", self._record)

    def _record(self, error) -> None:
        message, origin = GRADIO_STREAM_WAVEFORM_ERROR
        if error.message == message and origin in (error.stack or ""):
            return
        self.errors.append(f"{error.name}: {error.message}\n{error.stack}")

    def check(self) -> None:
        assert not self.errors, "errors in the page:\n" + "\n".join(self.errors)

    def __str__(self) -> str:
        return "; ".join(self.errors) or "none"


PAGE_STATE = """() => {
  const audio = document.querySelector('#answer-audio audio');
  const stage = document.querySelector('#status [data-stage]');
  return {stage: stage && stage.dataset.stage, heard: (document.querySelector('#heard') || {}).innerText,
          audio: audio && {paused: audio.paused, ended: audio.ended, currentTime: audio.currentTime,
                           duration: audio.duration, readyState: audio.readyState}};
}"""


def page_state(page) -> dict:
    """What the page shows now: its stage, what it heard, and the answer player's state."""
    return page.evaluate(PAGE_STATE)


# Installed in every page before its own scripts: how far the answer player has played since the last
# reset, from the <audio> element's own timeupdate events (media events do not bubble, but a capturing
# listener on the document sees them all).
WATCH_ANSWER_PLAYBACK = """
window.answerPlayedS = 0;
document.addEventListener('timeupdate', (event) => {
  if (event.target.closest && event.target.closest('#answer-audio') && !event.target.paused)
    window.answerPlayedS = Math.max(window.answerPlayedS, event.target.currentTime);
}, true);
"""


def watch_answer_playback(context) -> None:
    context.add_init_script(WATCH_ANSWER_PLAYBACK)


def forget_answer_playback(page) -> None:
    """Start counting afresh: the next answer must play on its own."""
    page.evaluate("window.answerPlayedS = 0")


def wait_for_answer_playback(page, seconds: float = 0.5, timeout_s: float = TIMEOUT_S) -> None:
    """Wait until the answer player has played ``seconds`` of audio (its time moved on while playing)."""
    page.wait_for_function("(s) => window.answerPlayedS >= s", arg=seconds, timeout=timeout_s * 1000)


# The streamed microphone's audio the server holds, as the page shows it (oracle.web.look.live_html).
SERVER_HAS_AT_LEAST = """(seconds) => {
  const live = document.querySelector('#live .live-words');
  return live !== null && Number(live.dataset.seconds) >= seconds;
}"""


def wait_for_recording(page, seconds: float, timeout_s: float = TIMEOUT_S) -> None:
    """Wait until the server holds ``seconds`` of the streamed recording. Gradio drops what the microphone
    hears before the stream opens, so the recording has then gone on for at least that long."""
    page.wait_for_function(SERVER_HAS_AT_LEAST, arg=seconds, timeout=timeout_s * 1000)


def screenshot_dir(default: Path) -> Path:
    """Where the stages' screenshots go: $SCREENSHOT_DIR, or a pytest temporary directory."""
    directory = Path(os.environ.get("SCREENSHOT_DIR") or default)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def small_png(source: Path, target: Path, width: int = 960, colours: int = 256) -> Path:
    """A copy of a screenshot small enough for a README: scaled down and palette-quantised."""
    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            target, optimize=True)
    return target
