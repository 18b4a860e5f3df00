"""Embedded speech in German, Spanish, French and Italian: SVOX Pico through ``py-nanotts``.

Pico's lingware (one text-analysis and one speaker file per language) ships inside the package, so it runs
offline. It speaks 16 kHz mono int16; clear, with the flat, slightly buzzy timbre of a 2009 phone voice.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from oracle.config import Settings
from oracle.errors import EngineUnavailable
from oracle.speech.piper import split_for_speech
from oracle.speech.shaping import ChunkShaper
from oracle.languages import Language

# ISO 639-1 code -> Pico's voice name.
PICO_VOICES = {"de": "de-DE", "es": "es-ES", "fr": "fr-FR", "it": "it-IT"}
PICO_SAMPLE_RATE = 16_000
# One gain for every chunk, applied inside Pico (before its 16-bit output): at its default volume Pico clips
# (hundreds of samples at full scale in one sentence); 0.5 clips none and is about as loud as Piper.
PICO_VOLUME = 0.5


class PicoSpeaker:
    """Speaker protocol for one language of Pico (``stream(text, language)`` checks that it is that one)."""

    sample_rate = PICO_SAMPLE_RATE
    robotic = True  # an HMM voice: clear, but its buzzy timbre is plainly a machine's

    def __init__(self, language: Language, settings: Settings | None = None):
        if language not in PICO_VOICES:
            raise ValueError(f"Pico has no {language!r} voice; it speaks {', '.join(PICO_VOICES)}")
        try:
            from py_nanotts import NanoTTS
        except ImportError as error:
            raise EngineUnavailable("The Pico voice is not installed (pip install py-nanotts).") from error
        self.language = language
        self.voice = PICO_VOICES[language]
        self.name = f"pico ({self.voice})"
        # Each speak() call sets up its own Pico system in its own memory: nothing global, so no lock.
        # The native call holds the GIL while it runs: 20-40 ms for a sentence.
        self._engine = NanoTTS()
        self._shape = ChunkShaper(self.sample_rate)

    def warm_up(self) -> None:
        for _chunk in self.stream("Ok.", self.language):
            pass

    def stream(self, text: str, language: Language) -> Iterator[np.ndarray]:
        if language != self.language:
            raise ValueError(f"this Pico voice speaks {self.language!r}, not {language!r}")
        for piece in split_for_speech(text):
            try:
                pcm = self._engine.speak(piece, voice=self.voice, volume=PICO_VOLUME)
            except RuntimeError as error:
                raise EngineUnavailable("The Pico voice failed while speaking.") from error
            audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
            if not audio.size:
                continue
            samples = self._shape(audio, piece)
            yield samples

