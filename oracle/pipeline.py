"""The oracle without any UI: hear a recording, answer a question, speak an answer."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from typing import Iterator

import numpy as np

from oracle import engines
from oracle.answer.guard import sanitize
from oracle.audio import checked_question, load_question
from oracle.config import Settings
from oracle.engines import Transcription
from oracle.errors import CouldNotHear, EmptyQuestion, EngineUnavailable, LostVoice, NoSpeech, OracleError
from oracle.language_id import language_of
from oracle.languages import FALLBACK_LANGUAGE, Language, LanguageOrAuto
from oracle.limits import MAX_QUESTION_CHARS, MAX_SPEAK_CHARS, SPEAK_TIME_LIMIT_S
from oracle.vad import has_speech

log = logging.getLogger(__name__)


SPOKEN, STREAMED, TYPED = "spoken", "streamed", "typed"


@dataclasses.dataclass(frozen=True)
class Reply:
    """A question and its answer, in ``language``. ``source``: an uploaded recording
    (``SPOKEN``), the microphone streamed while the person spoke (``STREAMED``) or text (``TYPED``).
    ``hear_ms``: from the moment the question was complete (uploaded, or Stop) to its words (0 when typed);
    ``answer_ms``: then to its answer (0 when it was prepared while the question was still being spoken)."""

    question: str
    answer: str
    language: Language
    source: str
    hear_ms: float
    answer_ms: float

    @property
    def typed(self) -> bool:
        return self.source == TYPED


def elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def clean_question(text: str | None) -> str:
    return _cut(re.sub(r"\s+", " ", text or "").strip(), MAX_QUESTION_CHARS)


def clean_speech_text(text: str | None) -> str:
    """What may be spoken: one line of at most ``MAX_SPEAK_CHARS``, without control characters."""
    text = re.sub(r"[\x00-\x1f\x7f]", " ", text or "")
    return _cut(re.sub(r"\s+", " ", text).strip(), MAX_SPEAK_CHARS)


class Oracle:
    def __init__(self, transcriber: engines.Transcriber | None, answerer: engines.Answerer, speaker: engines.Speaker,
                 settings: Settings | None = None):
        self.transcriber = transcriber
        self.answerer = answerer
        self.speaker = speaker
        self.settings = settings or Settings()
        self.speak_time_limit_s = SPEAK_TIME_LIMIT_S

    @classmethod
    def from_settings(cls, settings: Settings, hearing: bool = True) -> "Oracle":
        """The engines ``settings`` choose; ``hearing=False`` builds no hearing engine (typed questions only)."""
        from oracle.selection import choose
        from oracle.speech.languages import LanguageVoices

        oracle = cls(
            choose("asr", settings.asr, settings) if hearing else None,
            choose("answerer", settings.answerer, settings),
            LanguageVoices(choose("tts", settings.tts, settings), settings),
            settings,
        )
        log.info("engines: %s", oracle.engine_names)
        return oracle

    @property
    def engine_names(self) -> str:
        hearing = self.transcriber.name if self.transcriber else "none"
        return f"hearing: {hearing} · answering: {self.answerer.name} · voice: {self.speaker.name}"

    def engines_of(self, language: Language) -> dict:
        """The names of the engines that hear, answer and speak ``language``, and whether that voice sounds
        robotic (the page says so, in the visitor's words)."""
        voice_name = getattr(self.speaker, "voice_name", None)
        robotic = getattr(self.speaker, "robotic", None)
        return {"hearing": self.transcriber.name if self.transcriber else "none", "answering": self.answerer.name,
                "voice": voice_name(language) if voice_name else self.speaker.name,
                "robotic": robotic is not None and robotic(language)}

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
        log.info("engines warmed up in %.0f ms", elapsed_ms(start))

    def hear(self, audio_path: str | None, language: LanguageOrAuto = None,
             hint: Language | None = None) -> Transcription:
        """A recording file -> what was asked (its text cleaned), or an ``OracleError`` for the person.
        ``language``: the question's, or None to hear which (``hint``: the browser's, weighs in)."""
        audio = load_question(audio_path, self.settings.min_question_s, self.settings.max_question_s)
        return self.hear_audio(audio, language, hint)

    def check_recording(self, audio: np.ndarray) -> np.ndarray:
        """Mono 16 kHz audio as a question: the checks every recording passes (``audio.checked_question``)."""
        return checked_question(audio, self.settings.min_question_s, self.settings.max_question_s)

    def hear_audio(self, audio: np.ndarray, language: LanguageOrAuto = None,
                   hint: Language | None = None) -> Transcription:
        """Mono float32 audio at 16 kHz, already checked -> what was asked, and in which language (``language``,
        or the one hearing told from the speech). Silence never reaches the engine."""
        if not has_speech(audio):
            raise NoSpeech()
        try:
            heard = self.transcriber.transcribe(audio, language, hint)
        except OracleError:
            raise
        except Exception as error:  # one line: a broken engine must not flood the log with tracebacks
            log.error("hearing engine %s failed: %s: %s", self.transcriber.name, type(error).__name__, error)
            raise CouldNotHear() from error
        question = clean_question(heard.text)
        if not re.search(r"\w", question):
            raise NoSpeech()
        return dataclasses.replace(heard, text=question)

    def answer(self, question: str | None, language: Language) -> str:
        question = clean_question(question)
        if not question:
            raise EmptyQuestion()
        try:
            raw = self.answerer.answer(question, language)
        except OracleError:
            raise
        except Exception as error:
            log.exception("answering engine %s failed", self.answerer.name)
            raise EngineUnavailable() from error
        return sanitize(raw, prompt=getattr(self.answerer, "system_prompt", None), question=question,
                        language=language)

    def ask(self, audio_path: str | None, language: LanguageOrAuto = None, hint: Language | None = None) -> Reply:
        """An uploaded recording -> its reply."""
        start = time.perf_counter()
        heard = self.hear(audio_path, language, hint)
        return self.reply_to(heard.text, heard.language, SPOKEN, hear_ms=elapsed_ms(start))

    def ask_text(self, question: str | None, language: LanguageOrAuto = None, hint: Language | None = None) -> Reply:
        """A typed question -> its reply. With no ``language`` (auto) it is decided here, before answering: the
        language the words are identified as, else the browser's (``hint``), else ``FALLBACK_LANGUAGE``."""
        question = clean_question(question)
        if language is None:
            language = language_of(question, default=hint or FALLBACK_LANGUAGE)
        return self.reply_to(question, language, TYPED, hear_ms=0.0)

    def reply_to(self, question: str, language: Language, source: str, hear_ms: float) -> Reply:
        """The answer to ``question`` (heard in ``hear_ms``)."""
        start = time.perf_counter()
        answer = self.answer(question, language)
        return Reply(clean_question(question), answer, language, source, hear_ms, elapsed_ms(start))

    def speak(self, text: str, language: Language) -> Iterator[np.ndarray]:
        """Int16 chunks at ``sample_rate``; closing the iterator stops the engine.

        At most ``MAX_SPEAK_CHARS`` are spoken and for at most ``speak_time_limit_s``. If the voice
        fails before its first chunk, a friendly ``EngineUnavailable`` is raised; if it fails later,
        the stream simply ends: what was said stays said, and the written answer is unaffected.
        """
        text = clean_speech_text(text)
        if not text:
            return
        deadline = time.monotonic() + self.speak_time_limit_s
        chunks_sent = 0
        stream = self.speaker.stream(text, language)
        try:
            while True:
                try:
                    chunk = next(stream)
                except StopIteration:
                    return
                except EngineUnavailable as error:
                    if chunks_sent == 0:  # the person is told the voice is lost; the engine's words are logged
                        log.warning("voice %s failed before speaking: %s", self.speaker.name, error)
                        raise LostVoice(str(error)) from error
                    raise
                except OracleError:
                    raise
                except Exception as error:
                    if chunks_sent == 0:
                        log.exception("voice %s failed before speaking", self.speaker.name)
                        raise LostVoice() from error
                    log.exception("voice %s failed after %d chunks; the stream ends there",
                                  self.speaker.name, chunks_sent)
                    return
                chunks_sent += 1
                yield chunk
                if time.monotonic() > deadline:
                    log.warning("speaking stopped at its time limit of %.0f s", self.speak_time_limit_s)
                    return
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def speak_all(self, text: str, language: Language) -> np.ndarray:
        """The whole spoken answer as one int16 array at ``sample_rate`` (empty when there is nothing to say)."""
        chunks = list(self.speak(text, language))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
