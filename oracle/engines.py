"""The three engine protocols and the lazy registry that builds engines by name.

An engine module is imported only when its name is chosen, so a Space that runs the remote
engines never imports faster-whisper, and a laptop that runs Piper never imports Parler.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Iterator, Protocol, runtime_checkable

import numpy as np

from oracle.config import Settings
from oracle.languages import Language, LanguageOrAuto


@dataclass(frozen=True)
class Transcription:
    """What a hearing engine heard: the words ('' when none), the language it heard them in (always decided:
    the one it was given, or the one it told), how long the audio was and how long hearing it took."""

    text: str
    language: Language
    audio_s: float
    elapsed_ms: float


@runtime_checkable
class Transcriber(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray, language: LanguageOrAuto = None,
                   hint: Language | None = None) -> Transcription:
        """Mono float32 audio at 16 kHz -> what was heard. ``language``: the language the speech is in, or None
        to decide it from the speech among the supported ones (``hint``, the browser's language, if any, weighs
        in); the result's ``language`` says which it heard."""


@runtime_checkable
class Answerer(Protocol):
    name: str

    def answer(self, question: str, language: Language) -> str:
        """A question in ``language`` -> a raw answer in that language (the pipeline sanitizes it)."""


@runtime_checkable
class Speaker(Protocol):
    name: str
    sample_rate: int

    def stream(self, text: str, language: Language) -> Iterator[np.ndarray]:
        """Text in ``language`` -> mono int16 chunks at ``sample_rate``, the first as soon as it is ready."""


# kind -> engine name -> "module:factory"; every factory takes the Settings.
ENGINES: dict[str, dict[str, str]] = {
    "asr": {
        "local": "oracle.asr.local:LocalWhisper",
        "remote": "oracle.asr.remote:RemoteWhisper",
    },
    "answerer": {
        "book": "oracle.answer.world_book:WorldBook",
        "remote": "oracle.answer.remote:RemoteLLM",
        "smollm": "oracle.answer.smollm:SmolLMAnswerer",
    },
    "tts": {
        "piper": "oracle.speech.piper:PiperSpeaker",
        "parler": "oracle.speech.parler:ParlerSpeaker",
    },
}


def build(kind: str, name: str, settings: Settings):
    """Import and construct the engine ``name`` of ``kind`` ("asr", "answerer" or "tts")."""
    try:
        target = ENGINES[kind][name]
    except KeyError:
        known = ", ".join(sorted(ENGINES.get(kind, {})))
        raise ValueError(f"unknown {kind} engine {name!r}; choose one of: {known}") from None
    module_name, factory_name = target.split(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    return factory(settings)
