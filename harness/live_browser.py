"""A real headless Chromium asking the app aloud through a streamed microphone: one browser per recording
(Chromium's fake microphone plays one file, chosen at launch), and waits on the page's own state.

Recordings are made here from real speech (Piper, espeak-ng, or any human WAV) with silences put in by
numpy, as 48 kHz mono 16-bit files, the form Chromium's fake microphone plays.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile
import soxr

from harness.browser_tools import QUIET_FLAGS, browser_flags

FAKE_MICROPHONE_RATE = 48_000
WAIT_MS = 30_000
# Gradio 6.17's streaming <audio> player starts a waveform view it never renders, and logs this each time
# a stream starts; the stream itself plays, so only this message is tolerated.
KNOWN_GRADIO_ERRORS = ("Container not found",)


def as_microphone(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mono float samples at any rate (int16 too) -> float32 at the fake microphone's rate."""
    samples = np.asarray(samples)
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples.astype(np.float32) / 32768.0
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return soxr.resample(samples.astype(np.float32), rate, FAKE_MICROPHONE_RATE).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * FAKE_MICROPHONE_RATE), dtype=np.float32)


def write_microphone(path: Path, *parts: np.ndarray) -> Path:
    """``parts`` (each at the fake microphone's rate: speech from ``as_microphone``, or ``silence``) one
    after another, as the file Chromium plays (in a loop: end it with a long silence)."""
    soundfile.write(path, np.concatenate(parts), FAKE_MICROPHONE_RATE, subtype="PCM_16")
    return path


@contextmanager
def chromium(playwright, executable: str, microphone: Path | None, locale: str | None = None):
    """A headless Chromium whose microphone plays ``microphone`` (None: a machine with no microphone), in the
    language of ``locale`` ("fr-FR"; pass it to ``open_page`` too, for the page's Accept-Language)."""
    args = browser_flags(microphone) if microphone is not None else QUIET_FLAGS + [
        "--autoplay-policy=no-user-gesture-required"]
    if locale is not None:
        args = args + [f"--lang={locale}"]
    browser = playwright.chromium.launch(executable_path=executable, headless=True, args=args, timeout=WAIT_MS)
    try:
        yield browser
    finally:
        browser.close()


def open_page(browser, url: str, reduced_motion: bool = True, **context_options):
    """A fresh visit; ``page.errors`` collects every page error (but Gradio's known one)."""
    context = browser.new_context(reduced_motion="reduce" if reduced_motion else "no-preference",
                                  **context_options)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: str(error) in KNOWN_GRADIO_ERRORS or page.errors.append(str(error)))
    page.goto(url, wait_until="load")
    page.wait_for_selector('#status [data-stage="ready"]')
    return page



def wait_for_stage(page, stage: str, timeout_ms: int = WAIT_MS) -> None:
    page.wait_for_selector(f'#status [data-stage="{stage}"]', timeout=timeout_ms)


def microphone_button(page, name: str):
    return page.locator("#question-audio").get_by_role("button", name=name, exact=True)


def recorder_button(page, role: str):
    """Gradio's Record ("record") or Stop ("stop") button found as the page's script finds it: by class, in any
    language."""
    from oracle.web.gradio_adapter.page import STREAMING_RECORDER_BUTTONS

    return page.locator(", ".join(f"#question-audio {one.strip()}"
                                  for one in STREAMING_RECORDER_BUTTONS[role].split(",")))


def wait_for_live_speech(page, timeout_ms: int = WAIT_MS) -> None:
    """The server has heard speech in the streamed recording."""
    page.wait_for_selector('#live [data-speech="true"]', timeout=timeout_ms)


# True once the answer's <audio> element is playing and its time has moved past ``minimum``.
PLAYING = ("(minimum) => { const a = document.querySelector('#answer-audio audio');"
           " return a !== null && !a.paused && a.currentTime > minimum; }")


def wait_until_playing(page, timeout_ms: int = WAIT_MS) -> None:
    page.wait_for_function(PLAYING, arg=0.2, timeout=timeout_ms)


def drive(scenario, timeout_s: float = 300) -> None:
    """Run ``scenario(playwright)`` with a Playwright of its own, on a thread of its own: Playwright's sync API
    refuses to start where another test module's instance is already running (tests/test_browser.py keeps
    one for the whole session). The scenario's failure is raised here."""
    import threading

    from playwright.sync_api import sync_playwright

    failure: list[BaseException] = []

    def run() -> None:
        try:
            with sync_playwright() as playwright:
                scenario(playwright)
        except BaseException as error:  # handed to the test's thread below
            failure.append(error)

    thread = threading.Thread(target=run, name="browser", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"the browser scenario did not finish in {timeout_s} s")
    if failure:
        raise failure[0]
