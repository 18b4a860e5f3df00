"""What the page and the API endpoints do with the oracle: hear and answer on the CPU, keep the answer in
one ``gr.State`` (a ``Turn``), then stream the voice (on ZeroGPU, inside a ``@spaces.GPU`` call).

``OracleFlow`` holds the functions that ``app.build_demo`` wires to events; the layout and the wiring stay
in ``app.py``. The page's steps return updates keyed by component (``Page``), so no step depends on the
order of an outputs list. A recorded question is one ``oracle.conversation.Conversation``.
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
from oracle.errors import OracleError
from oracle.language_id import language_of
from oracle.languages import browser_language, parse_language
from oracle.limits import HISTORY_LIMIT, SPEAK_GPU_SECONDS, THINKING_CONCURRENCY
from oracle.pipeline import STREAMED, Oracle, Reply, elapsed_ms
from oracle.web.abandoned_streams import AbandonedStreams
from oracle.web.gradio_internals import save_wav_to_cache
from oracle.web.look import (ball_html, header_html, heard_html, history_title_html, live_html, status_html,
                             timings_line)

log = logging.getLogger(__name__)

Audio = tuple[int, np.ndarray]  # (sample rate, mono int16 samples)


@dataclass(frozen=True)
class Page:
    """The components the page's steps update (``app.build_demo`` makes them)."""

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
    def thinking_outputs(self) -> list:
        return [self.ball, self.status, self.heard, self.turn]

    @property
    def speaking_outputs(self) -> list:
        return [self.voice, self.ball, self.status, self.timings, self.history]


def _for_people(error: OracleError) -> gr.Error:
    """The oracle's friendly message as what Gradio shows a person (and a gradio_client raises)."""
    return gr.Error(str(error), print_exception=False)


def _language(choice: str | None) -> str | None:
    try:
        return parse_language(choice)
    except OracleError as error:
        raise _for_people(error) from None


def _hint(request: gr.Request | None) -> str | None:
    """The visitor's browser language (``Accept-Language``): a hint for hearing, never a decision."""
    headers = getattr(request, "headers", None)
    return browser_language(headers.get("accept-language")) if headers is not None else None


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
        the text's ("auto" or absent: the text's own)."""
        if not any(character.isalnum() for character in text or ""):  # empty, or only punctuation
            raise gr.Error("There is nothing to speak: ask a question first.", print_exception=False)
        language = _language(language) or language_of(text)
        yield from self._voice(text, language, self.oracle.speak(text, language))

    def _voice(self, text: str, language: str, chunks: Iterator[np.ndarray], prepared: bool = False) -> Iterator[Audio]:
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
            raise _for_people(error) from None
        finally:
            log.info("speak (%s%s): first audio %s ms · %d chunks, %.1f s of audio in %.0f ms", language,
                     ", prepared" if prepared else "", "–" if first_audio_ms is None else f"{first_audio_ms:.0f}",
                     count, samples / rate, elapsed_ms(start))

    def _speak_whole(self, text: str, language: str) -> Audio:
        try:
            return self.oracle.sample_rate, self.oracle.speak_all(text, language)
        except OracleError as error:
            raise _for_people(error) from None

    # ---- API endpoints (gradio_client); ``language`` is optional, so older clients keep working ----

    def _reply(self, ask, *args) -> Reply:
        try:
            reply = ask(*args)
        except OracleError as error:
            raise _for_people(error) from None
        log_request(reply)
        return reply

    def ask(self, audio_path: str | None, language: str | None = None, request: gr.Request = None):
        reply = self._reply(self.oracle.ask, audio_path, _language(language), _hint(request))
        return reply.question, reply.answer

    def ask_text(self, question: str, language: str | None = None, request: gr.Request = None) -> str:
        return self._reply(self.oracle.ask_text, question, _language(language), _hint(request)).answer

    def consult(self, audio_path: str | None, language: str | None = None, request: gr.Request = None):
        reply = self._reply(self.oracle.ask, audio_path, _language(language), _hint(request))
        spoken = self.speak_whole(reply.answer, reply.language)
        return reply.question, reply.answer, spoken

    # ---- the page: hear and answer (CPU) ----

    @staticmethod
    def page_words(request: gr.Request = None) -> tuple[str, str, str, str]:
        """The page's own words (title, history, the ball and the steps at rest) in the visitor's language."""
        words = _hint(request)
        return header_html(words), history_title_html(words), ball_html("ready", language=words), \
            status_html("ready", language=words)

    def _failed(self, stage: str, error: OracleError, typed: bool, request: gr.Request | None) -> dict:
        """The failed look. The step then raises ``_for_people(error)``: the message shows, and the speaking
        step (wired with ``.success``) does not run."""
        page, words = self.page, _hint(request)
        return {page.ball: ball_html(stage, failed=True, language=words),
                page.status: status_html(stage, str(error), failed=True, typed=typed, language=words),
                page.heard: "", page.turn: None}

    def _answered(self, reply: Reply, request: gr.Request | None, voice=None) -> dict:
        page, words = self.page, _hint(request)
        return {page.ball: ball_html("consulting", reply.answer, language=words),
                page.status: status_html("consulting", "answer_surfaces", typed=reply.typed, language=words),
                page.heard: heard_html(reply.question, words), page.turn: Turn(reply, voice)}

    def consult_spoken(self, audio_path: str | None, language: str | None = None, request: gr.Request = None):
        """An uploaded recording (the spoken examples)."""
        try:
            reply = self.oracle.ask(audio_path, _language(language), _hint(request))
        except OracleError as error:
            yield self._failed("hearing", error, typed=False, request=request)
            raise _for_people(error) from None
        log_request(reply)
        yield self._answered(reply, request)

    def consult_typed(self, question: str, language: str | None = None, request: gr.Request = None):
        try:
            reply = self.oracle.ask_text(question, _language(language), _hint(request))
        except OracleError as error:
            yield self._failed("consulting", error, typed=True, request=request)
            raise _for_people(error) from None
        log_request(reply)
        yield self._answered(reply, request)

    # ---- the page: a question heard while it is spoken (the microphone streams) ----

    def hear_chunk(self, chunk_path: str | None, conversation: Conversation | None, language: str | None = None,
                   request: gr.Request = None) -> dict:
        """One microphone chunk (a file, decoded like any upload). A new recording opens a new
        ``Conversation``. The live words' data attributes are the page's contract: ``data-seconds`` (the
        server has audio: Gradio drops what the microphone sends before that), ``data-ended`` (the question
        has ended by itself: the page stops recording in hands-free mode), ``data-failed``."""
        page = self.page
        failure = conversation.failure_to_tell() if conversation is not None else None
        if failure is not None:  # it failed since the last chunk (its engine): the stream ends with why
            raise _for_people(failure)
        if chunk_path is None and (conversation is None or conversation.state != "listening"):
            return {page.conversation: conversation}  # the stream's last turn, after Stop: nothing new
        if conversation is None or conversation.state != "listening":
            conversation = self.conversations.open(_language(language), _hint(request))
        if chunk_path is not None:
            conversation.add_file(chunk_path)
        failure = conversation.failure_to_tell()
        if failure is not None:  # this chunk was refused: the stream ends with why
            raise _for_people(failure)
        return {page.conversation: conversation,
                page.live: live_html(conversation.partial, conversation.seconds, conversation.heard_speech,
                                     conversation.prepared, conversation.ended, conversation.state == "failed",
                                     language=_hint(request))}

    def consult_streamed(self, conversation: Conversation | None, request: gr.Request = None):
        """The question has ended (Stop, or the end of speech)."""
        page = self.page
        if conversation is None:  # Stop before any audio reached the server
            conversation = self.conversations.open()
        try:
            turn = conversation.finish()
        except OracleError as error:
            yield {**self._failed("hearing", error, typed=False, request=request), page.conversation: None}
            raise _for_people(error) from None
        log_request(turn.reply)
        yield {**self._answered(turn.reply, request, turn.voice), page.conversation: None}

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
            return self._voice(reply.answer, reply.language, prepared.chunks(), prepared=True)
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
                    yield {page.voice: (rate, chunk), page.ball: ball_html("speaking", reply.answer, language=words),
                           page.status: status_html("speaking", typed=reply.typed, answer=reply.answer,
                                                    language=words)}
                else:
                    yield {page.voice: (rate, chunk)}
        except gr.Error as error:  # speak() turns the oracle's errors into gr.Error
            log.warning("speaking failed: %s", error)
        timings = timings_line(reply, first_audio_ms, self.oracle.engines_for(reply.language))
        if not chunks:  # no voice this time: the written answer stands
            yield {page.ball: ball_html("done", reply.answer, language=words),
                   page.status: status_html("done", "lost_voice", typed=reply.typed, answer=reply.answer,
                                            language=words),
                   page.timings: timings, page.history: self.remember(history, reply, None)}
            return
        # The stream plays on in the browser; "done" comes when it ends (see finished()).
        yield {page.timings: timings, page.history: self.remember(history, reply, np.concatenate(chunks))}

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
        reply, words = turn.reply, _hint(request)
        return {page.ball: ball_html("done", reply.answer, language=words),
                page.status: status_html("done", typed=reply.typed, answer=reply.answer, language=words)}


def log_request(reply: Reply) -> None:
    """One line per request, with its timings (never what was asked or answered)."""
    log.info("%s question (%s): hearing %.0f ms · answering %.0f ms", reply.source, reply.language,
             reply.hear_ms, reply.answer_ms)
