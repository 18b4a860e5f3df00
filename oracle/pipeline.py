"""The oracle without any UI: hear a recording, answer a question, speak an answer."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from oracle import engines
from oracle.answer.guard import sanitize
from oracle.audio import load_question, wav_bytes
from oracle.config import Settings
from oracle.errors import EmptyQuestion, EngineUnavailable, NoSpeech, OracleError
from oracle.vad import has_speech

# Anything longer is not one question; answerers and LLM prompts get at most this much.
MAX_QUESTION_CHARS = 300

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    question: str
    answer: str
    hear_ms: float | None
    answer_ms: float


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def clean_question(text: str | None) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    if len(text) > MAX_QUESTION_CHARS:
        text = text[:MAX_QUESTION_CHARS].rsplit(" ", 1)[0] + "…"
    return text


class Oracle:
    def __init__(self, transcriber: engines.Transcriber, answerer: engines.Answerer, speaker: engines.Speaker,
                 settings: Settings | None = None):
        self.transcriber = transcriber
        self.answerer = answerer
        self.speaker = speaker
        self.settings = settings or Settings()

    @classmethod
    def from_settings(cls, settings: Settings) -> "Oracle":
        from oracle.selection import choose

        oracle = cls(
            choose("asr", settings.asr, settings),
            choose("answerer", settings.answerer, settings),
            choose("tts", settings.tts, settings),
            settings,
        )
        log.info("engines: %s", oracle.engine_names)
        return oracle

    @property
    def engine_names(self) -> str:
        return f"hearing: {self.transcriber.name} · answering: {self.answerer.name} · voice: {self.speaker.name}"

    @property
    def sample_rate(self) -> int:
        return self.speaker.sample_rate

    def warm_up(self) -> None:
        """Run each local engine once so the first real request is as fast as the rest (remote
        engines have nothing to warm and are not called)."""
        start = time.perf_counter()
        has_speech(np.zeros(16_000, dtype=np.float32))
        for engine in (self.transcriber, self.answerer, self.speaker):
            warm_up = getattr(engine, "warm_up", None)
            if warm_up is not None:
                warm_up()
        log.info("engines warmed up in %.0f ms", _elapsed_ms(start))

    def hear(self, audio_path: str | None) -> str:
        audio = load_question(audio_path, self.settings.min_question_s, self.settings.max_question_s)
        if not has_speech(audio):
            raise NoSpeech()
        try:
            question = clean_question(self.transcriber.transcribe(audio))
        except OracleError:
            raise
        except Exception as error:
            log.exception("hearing engine %s failed", self.transcriber.name)
            raise EngineUnavailable("The oracle could not hear you just now. Please try again.") from error
        if not re.search(r"\w", question):
            raise NoSpeech()
        return question

    def answer(self, question: str | None) -> str:
        question = clean_question(question)
        if not question:
            raise EmptyQuestion()
        try:
            raw = self.answerer.answer(question)
        except OracleError:
            raise
        except Exception as error:
            log.exception("answering engine %s failed", self.answerer.name)
            raise EngineUnavailable() from error
        return sanitize(raw)

    def ask(self, audio_path: str | None) -> Reply:
        start = time.perf_counter()
        question = self.hear(audio_path)
        hear_ms = _elapsed_ms(start)
        return self._reply(question, hear_ms)

    def ask_text(self, question: str | None) -> Reply:
        return self._reply(clean_question(question), None)

    def _reply(self, question: str, hear_ms: float | None) -> Reply:
        start = time.perf_counter()
        answer = self.answer(question)
        return Reply(question, answer, hear_ms, _elapsed_ms(start))

    def speak(self, text: str) -> Iterator[np.ndarray]:
        """Int16 chunks at ``sample_rate``; closing the iterator stops the engine."""
        text = (text or "").strip()
        if not text:
            return
        yield from self.speaker.stream(text)

    def speak_all(self, text: str) -> np.ndarray:
        chunks = list(self.speak(text))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def speak_wav(self, text: str) -> bytes:
        return wav_bytes(self.speak_all(text), self.sample_rate)
