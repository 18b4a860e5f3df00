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


def microphone_wav(speech_wav: Path, target: Path, lead_s: float = 0.3, tail_s: float = 4.0) -> Path:
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
