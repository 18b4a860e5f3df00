"""What every voice does to a piece of speech before it leaves as a chunk: one fixed scale to int16 (no
per-chunk normalisation, so loudness never jumps), edges faded so the joins between chunks never click,
and a short pause after the end of a sentence."""

from __future__ import annotations

import numpy as np

from oracle.audio import to_int16

FADE_SECONDS = 0.004
PAUSE_AFTER_SENTENCE_SECONDS = 0.12
SENTENCE_ENDS = ".!?;。！？"


class ChunkShaper:
    def __init__(self, sample_rate: int):
        self._fade_in = np.linspace(0.0, 1.0, int(FADE_SECONDS * sample_rate), dtype=np.float32)
        self._pause = np.zeros(int(PAUSE_AFTER_SENTENCE_SECONDS * sample_rate), dtype=np.int16)

    def __call__(self, audio: np.ndarray, piece: str, gain: float = 1.0) -> np.ndarray:
        """Float audio of ``piece`` (the text it says) -> its int16 chunk."""
        audio = np.asarray(audio, dtype=np.float32) * gain
        n = min(len(self._fade_in), len(audio) // 2)
        if n:
            audio[:n] *= self._fade_in[:n]
            audio[-n:] *= self._fade_in[:n][::-1]
        samples = to_int16(audio)
        if piece and piece[-1] in SENTENCE_ENDS:
            samples = np.concatenate([samples, self._pause])
        return samples
