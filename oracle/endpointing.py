"""Where speech starts and stops in a growing recording: Silero VAD, run only on the audio that is new.

faster-whisper's Silero model scores 32 ms windows (512 samples at 16 kHz), each with the 64 samples
before it, carrying its recurrent state from window to window; scoring the windows as they arrive with the
state carried over gives the very scores one pass over the whole recording would (the tests check that). Over those scores a window is speech when it scores at least ``THRESHOLD``, or at least
``NEGATIVE_THRESHOLD`` right after speech (the hysteresis of Silero's own ``get_speech_timestamps``).

A question has ended once it holds some speech and then ``end_silence_s`` of silence: long enough to
outlast a breath between two phrases (0.3 s is typical), short enough to feel like a conversation.
"""

from __future__ import annotations

import numpy as np

from oracle.audio import SAMPLE_RATE
from oracle.vad import MIN_SPEECH_SECONDS, NEGATIVE_THRESHOLD, THRESHOLD

WINDOW = 512
CONTEXT = 64
WINDOW_S = WINDOW / SAMPLE_RATE


def _silero():
    from faster_whisper.vad import get_vad_model

    return get_vad_model()


class Endpointer:
    """Feed it 16 kHz mono float32 audio as it arrives; ask it how much speech there was and how long
    the silence after the last of it has lasted. Not thread-safe: one per recording."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.float32)  # samples not yet a whole window
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._state = (np.zeros((1, 1, 128), dtype=np.float32), np.zeros((1, 1, 128), dtype=np.float32))
        self._windows = 0
        self._speech_windows = 0
        self._in_speech = False
        self._last_speech_window: int | None = None

    def feed(self, audio: np.ndarray) -> None:
        audio = np.concatenate([self._pending, np.asarray(audio, dtype=np.float32)])
        whole = audio.size // WINDOW * WINDOW
        self._pending = audio[whole:].copy()
        if whole == 0:
            return
        windows = audio[:whole].reshape(-1, WINDOW)
        contexts = np.concatenate([self._context[None, :], windows[:-1, -CONTEXT:]])
        self._context = windows[-1, -CONTEXT:].copy()
        scores = self._score(np.concatenate([contexts, windows], axis=1))
        for score in scores:
            speech = score >= THRESHOLD or (self._in_speech and score >= NEGATIVE_THRESHOLD)
            if speech:
                self._speech_windows += 1
                self._last_speech_window = self._windows
            self._in_speech = speech
            self._windows += 1

    def _score(self, batch: np.ndarray) -> np.ndarray:
        h, c = self._state
        scores, h, c = _silero().session.run(None, {"input": batch.astype(np.float32), "h": h, "c": c})
        self._state = (h, c)
        return np.asarray(scores).reshape(-1)

    @property
    def speech_s(self) -> float:
        return self._speech_windows * WINDOW_S

    @property
    def has_speech(self) -> bool:
        return self.speech_s >= MIN_SPEECH_SECONDS

    @property
    def speech_end_sample(self) -> int | None:
        """The sample just after the last window of speech, or None before any speech."""
        if self._last_speech_window is None:
            return None
        return (self._last_speech_window + 1) * WINDOW

    @property
    def silence_after_speech_s(self) -> float:
        """How long it has been quiet since the last speech (0 while speaking or before any speech)."""
        if self._last_speech_window is None:
            return 0.0
        return (self._windows - 1 - self._last_speech_window) * WINDOW_S

    def ended(self, end_silence_s: float) -> bool:
        """A question was asked and the person has been quiet for ``end_silence_s`` since."""
        return self.has_speech and self.silence_after_speech_s >= end_silence_s
