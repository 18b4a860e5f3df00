"""Hearing a voice back: what the multilingual Whisper base (the app's own joined model, with a 5-wide beam for a
fair reading) hears in spoken audio, and its character error against what was said. For the voice tests
and benchmarks/voices.py."""

from __future__ import annotations

import unicodedata

import numpy as np
import soxr

from harness.hearing import edit_distance

# One answer-like sentence per language, two sentences each (so a voice sends more than one chunk).
ANSWERS = {
    "en": "The river does not hurry, yet it arrives. Be patient and wait.",
    "es": "El destino está de tu lado. Ten paciencia.",
    "fr": "Le destin est de ton côté. Sois patient.",
    "de": "Das Schicksal ist auf deiner Seite. Hab Geduld.",
    "it": "Il destino è dalla tua parte. Abbi pazienza.",
    "pt": "O destino está do seu lado. Tenha paciência.",
    "ja": "運命はあなたの味方です。焦らずに待ちなさい。",
}


def whisper_base():
    from faster_whisper import WhisperModel

    from oracle.asr.multilingual import prepare_model_folder

    return WhisperModel(str(prepare_model_folder()), device="cpu", compute_type="int8", cpu_threads=2)


def normalized(text: str) -> str:
    """Lower case, no punctuation, no spaces (Japanese has none; Whisper's spacing is not the voice's)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in text if not unicodedata.category(c).startswith(("P", "Z", "S")) and not c.isspace())


def character_error_rate(said: str, heard: str) -> float:
    reference = normalized(said)
    return edit_distance(list(reference), list(normalized(heard))) / max(1, len(reference))


def hear(whisper, audio: np.ndarray, rate: int, language: str) -> str:
    samples = soxr.resample(audio.astype(np.float32) / 32768.0, rate, 16_000)
    segments, _info = whisper.transcribe(samples, language=language, beam_size=5, vad_filter=False,
                                         condition_on_previous_text=False)
    return " ".join(segment.text.strip() for segment in segments)
