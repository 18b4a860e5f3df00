"""Embedded speech in Portuguese: the espeak-ng program (formant synthesis), run once per sentence.

No pip package ships a natural Portuguese voice that runs offline, so this one is robotic but clear. It needs
the ``espeak-ng`` binary (Debian/Ubuntu package ``espeak-ng``; on the Space, ``packages.txt``).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from typing import Iterator

import numpy as np
import soundfile

from oracle.config import Settings
from oracle.errors import EngineUnavailable
from oracle.speech.piper import split_for_speech
from oracle.speech.shaping import ChunkShaper
from oracle.languages import Language

# ISO 639-1 code -> espeak-ng voice. Brazilian Portuguese: most Portuguese speakers speak it.
ESPEAK_VOICES = {"pt": "pt-br"}
ESPEAK_SAMPLE_RATE = 22_050  # what espeak-ng writes with --stdout
WORDS_PER_MINUTE = 150  # its default 175 runs words together
TIMEOUT_S = 10.0  # a sentence takes ~20 ms; a stuck process must not hold an answer


class EspeakSpeaker:
    """Speaker protocol for one language of espeak-ng."""

    sample_rate = ESPEAK_SAMPLE_RATE
    robotic = True

    def __init__(self, language: Language, settings: Settings | None = None, *, binary: str = "espeak-ng"):
        if language not in ESPEAK_VOICES:
            raise ValueError(f"no espeak-ng voice is set up for {language!r}; these are: {', '.join(ESPEAK_VOICES)}")
        self.binary = shutil.which(binary)
        if self.binary is None:
            raise EngineUnavailable(f"The {language} voice needs the espeak-ng program, which is not installed.")
        self.language = language
        self.voice = ESPEAK_VOICES[language]
        self.name = f"espeak-ng ({self.voice})"
        self._shape = ChunkShaper(self.sample_rate)

    def warm_up(self) -> None:
        for _chunk in self.stream("Sim.", self.language):
            pass

    def stream(self, text: str, language: Language) -> Iterator[np.ndarray]:
        if language != self.language:
            raise ValueError(f"this espeak-ng voice speaks {self.language!r}, not {language!r}")
        for piece in split_for_speech(text):
            audio = self._synthesize(piece)
            if not audio.size:
                continue
            samples = self._shape(audio, piece)
            yield samples

    def _synthesize(self, piece: str) -> np.ndarray:
        # The text goes in on stdin, so nothing in it can be read as an option.
        command = [self.binary, "--stdout", "-b", "1", "-v", self.voice, "-s", str(WORDS_PER_MINUTE)]
        try:
            done = subprocess.run(command, input=piece.encode("utf-8"), capture_output=True, timeout=TIMEOUT_S,
                                  check=True)
            audio, rate = soundfile.read(io.BytesIO(done.stdout), dtype="float32")
        except (OSError, subprocess.SubprocessError, soundfile.LibsndfileError) as error:
            raise EngineUnavailable(f"The {self.language} voice (espeak-ng) failed while speaking.") from error
        if rate != self.sample_rate:
            raise EngineUnavailable(f"espeak-ng spoke at {rate} Hz, not {self.sample_rate} Hz.")
        return audio

