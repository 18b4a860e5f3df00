"""Watching the voice work: a long text to speak, and waits on the voice's own count of its streams and chunks
(``harness.fault_engines.WatchedSpeaker``) instead of on time."""

from __future__ import annotations

import time

from harness.fault_engines import WatchedSpeaker

# Forty sentences, ~1,000 characters: about eight seconds of work for the voice, 40 chunks.
LONG_TEXT = " ".join(f"This is sentence number {n}." for n in range(1, 41))
LONG_TEXT_CHUNKS = 40


def watched_voice(oracle) -> WatchedSpeaker:
    """``oracle``'s voice, which counts its streams and chunks (the session's oracle is built with one)."""
    assert isinstance(oracle.speaker, WatchedSpeaker), f"{oracle.speaker!r} is not watched"
    return oracle.speaker


def wait_until(condition, timeout_s: float, message: str) -> None:
    """Poll ``condition`` until it holds; AssertionError(``message``) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.02)


def wait_for_no_new_chunks(meter, quiet_s: float = 1.5, timeout_s: float = 15) -> int:
    """Wait until the voice has made no chunk for ``quiet_s``; returns the chunk count then."""
    deadline = time.monotonic() + timeout_s
    count, since = meter.chunks, time.monotonic()
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() < deadline, "the voice kept producing chunks"
        time.sleep(0.05)
        if meter.chunks != count:
            count, since = meter.chunks, time.monotonic()
    return count
