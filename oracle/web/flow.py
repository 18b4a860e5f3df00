"""What the page and the API endpoints do with the oracle: hear and answer on the CPU, keep the answer in
one ``gr.State`` (a ``Turn``), then stream the voice (on ZeroGPU, inside a ``@spaces.GPU`` call).

``OracleFlow`` holds the functions that ``app.build_demo`` wires to events; the layout and the wiring stay
in ``app.py``. The page's steps return updates keyed by component (``Page``), so no step depends on the
order of an outputs list, and move the page between its stages only as ``oracle.web.stages`` allows. A
recorded question is one ``oracle.conversation.Conversation``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

import gradio as gr
import numpy as np
import spaces

from oracle.conversation import Conversation, Conversations, Turn
from oracle.errors import NothingToSpeak, OracleError
from oracle.language_id import language_of
from oracle.languages import FALLBACK_LANGUAGE, Language, LanguageOrAuto, parse_language
from oracle.limits import HISTORY_LIMIT, SPEAK_GPU_SECONDS, THINKING_CONCURRENCY
from oracle.pipeline import STREAMED, Oracle, Reply, elapsed_ms
from oracle.web.gradio_adapter.generators import AbandonedStreams
from oracle.web.gradio_adapter.memory import save_wav_to_cache
from oracle.web.gradio_adapter.microphone import microphone_stream_of
from oracle.web.gradio_adapter.voice import VOICE_ENDED
from oracle.web.stages import Stage, move
from oracle.web.told import browser_hint, for_people
from oracle.web.look import (ball_html, header_html, heard_html, history_title_html, live_html, status_html,
                             timings_line)

log = logging.getLogger(__name__)

Audio = tuple[int, np.ndarray]  # (sample rate, mono int16 samples)


@dataclass(frozen=True)
class Page:
    """The components the page's steps update (``app.build_demo`` makes them)."""

    title: Any
    history_title: Any
    ball: Any
    status: Any
    heard: Any
    live: Any
    timings: Any
    voice: Any
    history: Any
    turn: Any  # gr.State: the current Turn
    conversation: Any  # gr.State: the Conversation being recorded

    @property
    def words_outputs(self) -> list:
        return [self.title, self.history_title, self.ball, self.status]

    @property
    def thinking_outputs(self) -> list:
        return [self.ball, self.status, self.heard, self.turn]

    @property
    def speaking_outputs(self) -> list:
        return [self.voice, self.ball, self.status, self.timings, self.history]


def _hint(request: gr.Request | None) -> Language | None:
    """The visitor's browser language (``Accept-Language``): a hint for hearing, never a decision."""
    return browser_hint(getattr(request, "headers", None))


def _language(choice: str | None, request: gr.Request | None = None) -> LanguageOrAuto:
    """The language a request names (None: auto). One it does not support is told in the browser's language
    (an API script sends none: English)."""
    try:
        return parse_language(choice)
    except OracleError as error:
        raise for_people(error, _hint(request)) from None


def _told_in(language: LanguageOrAuto, request: gr.Request | None) -> Language | None:
    """The language a person is told things in: the question's when the request names it, else the browser's;
    neither (an API script that names none): None, English, as before there were languages."""
    return language or _hint(request)


class OracleFlow:
    def __init__(self, oracle: Oracle, prepare_voice: bool = True):
        self.oracle = oracle
        self.abandoned = AbandonedStreams()
        # Every visit's streamed hearing shares these: a crowd speaking at once cannot start a crowd of
        # transcriptions on the CPU.
        self.hearing_slots = threading.BoundedSemaphore(THINKING_CONCURRENCY)
        # Speaking the answer's first clause while the person still speaks: only where the voice runs on
        # this CPU (a ZeroGPU voice exists only inside a @spaces.GPU call).
        self.conversations = Conversations(oracle, prepare_voice, self.hearing_slots)
        self.page: Page | None = None
        # Everything that runs the voice engine (the GPU on ZeroGPU) goes through these two.
        self.speak = spaces.GPU(duration=SPEAK_GPU_SECONDS)(self._speak)
        self.speak_whole = spaces.GPU(duration=SPEAK_GPU_SECONDS)(self._speak_whole)

    # ---- the voice ----

    def _speak(self, text: str, language: str | None = None) -> Iterator[Audio]:
        """Stream the spoken ``text``: one chunk per sentence or clause, int16, one loudness. ``language``:
        the text's ("auto" or absent: the text's own; a problem is then told in English)."""
        told = _language(language)
        if not any(character.isalnum() for character in text or ""):  # empty, or only punctuation
            raise for_people(NothingToSpeak(), told)
        language = told or language_of(text, default=FALLBACK_LANGUAGE)
        yield from self._voice(text, language, self.oracle.speak(text, language), told)

    def _voice(self, text: str, language: Language, chunks: Iterator[np.ndarray], told: Language | None,
               prepared: bool = False) -> Iterator[Audio]:
        """``chunks`` as the page and the API stream them; ``prepared``: the voice prepared at the pause (the
        log line says so: benchmarks/browser_latency.py counts them)."""
        rate, start = self.oracle.sample_rate, time.perf_counter()
        first_audio_ms, count, samples = None, 0, 0
        try:
            for chunk in self.abandoned.watch(chunks):
                first_audio_ms = first_audio_ms or elapsed_ms(start)
                count, samples = count + 1, samples + chunk.size
                yield rate, chunk
        except OracleError as error:
            raise for_people(error, told) from None
        finally:
            log.info("speak (%s%s): first audio %s ms · %d chunks, %.1f s of audio in %.0f ms", language,
                     ", prepared" if prepared else "", "–" if first_audio_ms is None else f"{first_audio_ms:.0f}",
                     count, samples / rate, elapsed_ms(start))

    def _speak_whole(self, text: str, language: Language, told: Language | None = None) -> Audio:
        try:
            return self.oracle.sample_rate, self.oracle.speak_all(text, language)
        except OracleError as error:
            raise for_people(error, told) from None

    # ---- API endpoints (gradio_client); ``language`` is optional, so older clients keep working ----

    def _reply(self, ask, question, language: str | None, request: gr.Request | None) -> Reply:
        code = _language(language, request)
        try:
            reply = ask(question, code, _hint(request))
        except OracleError as error:
            raise for_people(error, _told_in(code, request)) from None
        log_request(reply)
        return reply

    def ask(self, audio_path: str | None, language: str | None = None, request: gr.Request = None):
        reply = self._reply(self.oracle.ask, audio_path, language, request)
        return reply.question, reply.answer

    def ask_text(self, question: str, language: str | None = None, request: gr.Request = None) -> str:
        return self._reply(self.oracle.ask_text, question, language, request).answer

    def consult(self, audio_path: str | None, language: str | None = None, request: gr.Request = None):
        reply = self._reply(self.oracle.ask, audio_path, language, request)
        spoken = self.speak_whole(reply.answer, reply.language, _told_in(_language(language), request))
        return reply.question, reply.answer, spoken

    # ---- the page: hear and answer (CPU) ----

    def page_words(self, request: gr.Request = None) -> dict:
        """The page's own words (title, history, the ball and the steps at its first stage) in the visitor's
        language."""
        page, words = self.page, _hint(request)
        return {page.title: header_html(words), page.history_title: history_title_html(words),
                page.ball: ball_html(Stage.READY, language=words),
                page.status: status_html(Stage.READY, language=words)}

    def _failed(self, stage: Stage, error: OracleError, typed: bool, told: Language | None,
                request: gr.Request | None) -> dict:
        """The failed look at the stage that failed, the message in ``told``. The step then raises
        ``for_people(error, told)``: the message shows, and the speaking step (wired with ``.success``) does
        not run."""
        page, words = self.page, _hint(request)
        return {page.ball: ball_html(stage, failed=True, language=words),
                page.status: status_html(stage, error.message(told), failed=True, typed=typed, language=words),
                page.heard: "", page.turn: None}

    def _answered(self, since: Stage, reply: Reply, request: gr.Request | None, voice=None) -> dict:
        """The answer surfaces: the page moves from ``since`` (the stage the browser showed) to consulting."""
        page, words, stage = self.page, _hint(request), move(since, Stage.CONSULTING)
        return {page.ball: ball_html(stage, reply.answer, language=words),
                page.status: status_html(stage, "answer_surfaces", typed=reply.typed, language=words),
                page.heard: heard_html(reply.question, words), page.turn: Turn(reply, voice)}

    def consult_spoken(self, audio_path: str | None, language: str | None = None, request: gr.Request = None):
        """An uploaded recording (the spoken examples, each with its own language)."""
        code = _language(language, request)
        try:
            reply = self.oracle.ask(audio_path, code, _hint(request))
        except OracleError as error:
            told = _told_in(code, request)
            yield self._failed(Stage.HEARING, error, typed=False, told=told, request=request)
            raise for_people(error, told) from None
        log_request(reply)
        yield self._answered(Stage.HEARING, reply, request)

    def consult_typed(self, question: str, language: str | None = None, request: gr.Request = None):
        code = _language(language, request)
        try:
            reply = self.oracle.ask_text(question, code, _hint(request))
        except OracleError as error:
            told = _told_in(code, request)
            yield self._failed(Stage.CONSULTING, error, typed=True, told=told, request=request)
            raise for_people(error, told) from None
        log_request(reply)
        yield self._answered(Stage.CONSULTING, reply, request)

    # ---- the page: a question heard while it is spoken (the microphone streams) ----

    def hear_chunk(self, chunk_path: str | None, language: str | None = None, request: gr.Request = None) -> dict:
        """One microphone chunk (a file, decoded like any upload). A stream's first chunk opens its
        ``Conversation``; a chunk that comes once it has ended (Stop heard it already) is refused. The live
        words' data attributes are the page's contract: ``data-seconds`` (the server has audio: Gradio drops
        what the microphone sends before that), ``data-ended`` (the question has ended by itself: the page
        stops recording in hands-free mode), ``data-failed``."""
        page, stream = self.page, microphone_stream_of(request)
        conversation = self.conversations.of_stream(stream)
        if conversation is None:
            if chunk_path is None:  # the stream ended before any audio reached the server
                return {page.live: gr.skip()}
            conversation = self.conversations.open(_language(language, request), _hint(request), stream)
        failure = conversation.failure_to_tell()
        if failure is not None:  # it failed since the last chunk (its engine): the stream ends with why
            raise for_people(failure, _told_in(conversation.language, request))
        if chunk_path is None or not conversation.listening:
            return {page.live: gr.skip()}  # the stream's last turn after Stop, or a chunk for an ended recording
        conversation.add_file(chunk_path)
        failure = conversation.failure_to_tell()
        if failure is not None:  # this chunk was refused: the stream ends with why
            raise for_people(failure, _told_in(conversation.language, request))
        return {page.conversation: conversation,
                page.live: live_html(conversation.partial, conversation.seconds, conversation.heard_speech,
                                     conversation.prepared, conversation.ended, conversation.failed,
                                     language=_hint(request))}

    def consult_streamed(self, conversation: Conversation | None, request: gr.Request = None):
        """The question has ended (Stop, or the end of speech)."""
        page = self.page
        if conversation is None:  # Stop before any audio reached the server
            conversation = self.conversations.open()
        turn = conversation.finish()
        if isinstance(turn, OracleError):
            told = _told_in(conversation.language, request)
            yield {**self._failed(Stage.HEARING, turn, typed=False, told=told, request=request),
                   page.conversation: None}
            raise for_people(turn, told)
        log_request(turn.reply)
        yield {**self._answered(Stage.HEARING, turn.reply, request, turn.voice), page.conversation: None}

    @staticmethod
    def forget(conversation: Conversation | None) -> None:
        """A visit ended: let go of its recording."""
        if conversation is not None:
            conversation.close()

    # ---- the page: speak (GPU on ZeroGPU) ----

    def _page_voice(self, turn: Turn) -> Iterator[Audio]:
        """The answer's voice: the one prepared while the question was spoken if it speaks this answer,
        else a fresh one."""
        reply = turn.reply
        prepared = turn.voice_for(reply.answer, reply.language)
        if prepared is not None:
            return self._voice(reply.answer, reply.language, prepared.chunks(), reply.language, prepared=True)
        if reply.source == STREAMED:
            log.info("speak: no voice prepared for this answer (%s)",
                     "none was ready at Stop" if turn.voice is None else "it was for other words")
        return self.speak(reply.answer, reply.language)

    def speak_for_page(self, turn: Turn | None, history: list[dict], request: gr.Request = None):
        if turn is None:
            return
        page, reply, words = self.page, turn.reply, _hint(request)
        start = time.perf_counter()
        first_audio_ms = None
        chunks: list[np.ndarray] = []
        try:
            for rate, chunk in self._page_voice(turn):
                chunks.append(chunk)
                if first_audio_ms is None:
                    first_audio_ms = elapsed_ms(start)
                    stage = move(Stage.CONSULTING, Stage.SPEAKING)
                    yield {page.voice: (rate, chunk), page.ball: ball_html(stage, reply.answer, language=words),
                           page.status: status_html(stage, typed=reply.typed, answer=reply.answer, language=words)}
                else:
                    yield {page.voice: (rate, chunk)}
        except gr.Error as error:  # speak() turns the oracle's errors into gr.Error
            log.warning("speaking failed: %s", error)
        timings = timings_line(reply, first_audio_ms, self.oracle.engines_of(reply.language), words)
        if not chunks:  # no voice this time: the written answer stands
            stage = move(Stage.CONSULTING, Stage.DONE)
            yield {page.ball: ball_html(stage, reply.answer, language=words),
                   page.status: status_html(stage, "lost_voice", typed=reply.typed, answer=reply.answer,
                                            language=words),
                   page.timings: timings, page.history: self.remember(history, reply, None)}
            return
        # The stream plays on in the browser; "done" comes when it ends (see finished()). The player is told at
        # once that the voice has said all, before the answer's WAV is saved for the history.
        yield {page.voice: VOICE_ENDED, page.timings: timings}
        yield {page.history: self.remember(history, reply, np.concatenate(chunks))}

    def remember(self, history: list[dict], reply: Reply, spoken: np.ndarray | None) -> list[dict]:
        """This visit's history with ``reply`` added, its spoken answer saved as one WAV in Gradio's cache.
        The file name is a number: no user text becomes a path."""
        history = list(history or [])[-(HISTORY_LIMIT - 1):]
        number = (history[-1]["number"] + 1) if history else 1
        wav = None
        if spoken is not None:
            wav = save_wav_to_cache(spoken, self.oracle.sample_rate, f"oracle-answer-{number}.wav")
        history.append({"number": number, "question": reply.question, "answer": reply.answer,
                        "language": reply.language, "wav": wav})
        return history

    def finished(self, turn: Turn | None, request: gr.Request = None):
        """Once the answer has played to its end."""
        page = self.page
        if turn is None:
            return {}
        reply, words, stage = turn.reply, _hint(request), move(Stage.SPEAKING, Stage.DONE)
        return {page.ball: ball_html(stage, reply.answer, language=words),
                page.status: status_html(stage, typed=reply.typed, answer=reply.answer, language=words)}


def log_request(reply: Reply) -> None:
    """One line per request, with its timings (never what was asked or answered)."""
    log.info("%s question (%s): hearing %.0f ms · answering %.0f ms", reply.source, reply.language,
             reply.hear_ms, reply.answer_ms)
