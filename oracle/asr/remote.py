"""Hearing through the Hugging Face Inference API (``automatic_speech_recognition``).

The model comes from ``ORACLE_ASR_MODEL``: a Hub id (default ``openai/whisper-large-v3-turbo``) or the
URL of a deployed endpoint, which is also how tests point it at a local fake server. A known language
is passed on as Whisper's ``generate_kwargs`` (the audio then travels base64 in a JSON body, as the
Inference API takes parameters); with none, the raw WAV goes alone and Whisper hears any language it
knows. The reply does not say which, so the language is read from the words it heard
(``oracle.language_id``), the browser's language deciding when the words are too few to tell: a Spanish
question asked aloud on the Space is answered in Spanish.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from oracle.audio import SAMPLE_RATE, to_int16, wav_bytes
from oracle.config import Settings
from oracle.engines import Transcription
from oracle.inference_api import call_inference_api, public_name
from oracle.language_id import language_of_heard
from oracle.languages import Language, LanguageOrAuto

log = logging.getLogger(__name__)

SERVICE = "hearing service"


class RemoteWhisper:
    name = "remote"

    def __init__(self, settings: Settings):
        from huggingface_hub import InferenceClient

        self.model = settings.asr_model
        self.timeout_s = settings.request_timeout_s
        self._client = InferenceClient(model=self.model, token=settings.hf_token, timeout=self.timeout_s)
        log.info("remote hearing: %s (timeout %.1f s)", public_name(self.model), self.timeout_s)

    def __repr__(self) -> str:
        return f"RemoteWhisper(model={public_name(self.model)!r})"

    def transcribe(self, audio: np.ndarray, language: LanguageOrAuto = None,
                   hint: Language | None = None) -> Transcription:
        start = time.perf_counter()
        payload = wav_bytes(to_int16(np.asarray(audio, dtype=np.float32)), SAMPLE_RATE)

        # Hugging Face's Whisper endpoints run the transformers pipeline, which takes generate_kwargs.
        extra_body = {"generate_kwargs": {"language": language}} if language is not None else None

        def call() -> str:
            output = self._client.automatic_speech_recognition(payload, extra_body=extra_body)
            text = getattr(output, "text", None)
            if not isinstance(text, str):
                raise ValueError("the reply held no text")
            return text.strip()

        text = call_inference_api(call, service=SERVICE, model=self.model, timeout_s=self.timeout_s)
        if language is None:  # the reply does not say which language was heard: its words do
            language = language_of_heard(text, hint)
        return Transcription(text, language, audio.size / SAMPLE_RATE, (time.perf_counter() - start) * 1000)
