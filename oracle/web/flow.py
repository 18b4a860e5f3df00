"""What the page and the API endpoints do with the oracle: hear and answer on the CPU, keep the reply in
``gr.State``, then stream the voice (on ZeroGPU, inside a ``@spaces.GPU`` call).

``OracleFlow`` holds the functions that ``app.build_demo`` wires to events; the layout and the wiring stay
in ``app.py``. The page's steps yield ``(ball, status, reply, heard, …)`` updates for the components
``app.py`` passes them.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Iterator

import gradio as gr
import numpy as np
import spaces

from oracle.errors import OracleError
from oracle.limits import HISTORY_LIMIT, SPEAK_GPU_SECONDS, THINKING_CONCURRENCY
from oracle.listening import Listening, PreparedSpeech
from oracle.pipeline import Oracle, Reply
from oracle.web.abandoned_streams import AbandonedStreams
from oracle.web.gradio_internals import save_wav_to_cache
from oracle.web.look import ball_html, heard_html, live_html, status_html, timings_line

log = logging.getLogger(__name__)

Audio = tuple[int, np.ndarray]  # (sample rate, mono int16 samples)


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _for_people(error: OracleError) -> gr.Error:
    """The oracle's friendly message as what Gradio shows a person (and a gradio_client raises)."""
    return gr.Error(str(error), print_exception=False)


class OracleFlow:
    def __init__(self, oracle: Oracle, prepare_voice: bool = True):
        self.oracle = oracle
        # Speaking the answer's first clause while the person still speaks: only where the voice runs on
        # this CPU (a ZeroGPU voice exists only inside a @spaces.GPU call).
        self.prepare_voice = prepare_voice
        self.abandoned = AbandonedStreams()
        # Every visit's streamed hearing shares these: a crowd speaking at once cannot start a crowd of
        # transcriptions on the CPU.
        self.hearing_slots = threading.BoundedSemaphore(THINKING_CONCURRENCY)
        # Everything that runs the voice engine (the GPU on ZeroGPU) goes through these two.
        self.speak = spaces.GPU(duration=SPEAK_GPU_SECONDS)(self._speak)
        self.speak_whole = spaces.GPU(duration=SPEAK_GPU_SECONDS)(self._speak_whole)

    # ---- the voice ----

    def _speak(self, text: str) -> Iterator[Audio]:
        """Stream the spoken ``text``: one chunk per sentence or clause, int16, one loudness."""
        if not any(character.isalnum() for character in text or ""):  # empty, or only punctuation
            raise gr.Error("There is nothing to speak: ask a question first.", print_exception=False)
        rate, start = self.oracle.sample_rate, time.perf_counter()
        first_audio_ms, chunks, samples = None, 0, 0
        try:
            for chunk in self.abandoned.watch(self.oracle.speak(text)):
                first_audio_ms = first_audio_ms or _elapsed_ms(start)
                chunks, samples = chunks + 1, samples + chunk.size
                yield rate, chunk
        except OracleError as error:
            raise _for_people(error) from None
        finally:
            log.info("speak: first audio %s ms · %d chunks, %.1f s of audio in %.0f ms",
                     "–" if first_audio_ms is None else f"{first_audio_ms:.0f}", chunks, samples / rate,
                     _elapsed_ms(start))

    def _speak_whole(self, text: str) -> Audio:
        try:
            return self.oracle.sample_rate, self.oracle.speak_all(text)
        except OracleError as error:
            raise _for_people(error) from None

    # ---- API endpoints (gradio_client) ----

    def _reply_or_error(self, ask, value) -> Reply:
        try:
            return ask(value)
        except OracleError as error:
            raise _for_people(error) from None

    def ask(self, audio_path: str | None) -> tuple[str, str]:
        reply = self._reply_or_error(self.oracle.ask, audio_path)
        log_request("ask", reply)
        return reply.question, reply.answer

    def ask_text(self, question: str) -> str:
        reply = self._reply_or_error(self.oracle.ask_text, question)
        log_request("ask_text", reply)
        return reply.answer

    def consult(self, audio_path: str | None) -> tuple[str, str, Audio]:
        reply = self._reply_or_error(self.oracle.ask, audio_path)
        start = time.perf_counter()
        spoken = self.speak_whole(reply.answer)
        log_request("consult", reply, spoken_ms=_elapsed_ms(start))
        return reply.question, reply.answer, spoken

    # ---- the page: hear and answer (CPU), each step yielding (ball, status, reply, heard, …) ----

    @staticmethod
    def _failed(stage: str, error: OracleError, typed: bool):
        """The failed look (ball, status, reply). The step then raises ``_for_people(error)``: the message
        shows, and the speaking step (wired with ``.success``) does not run."""
        return ball_html(stage, failed=True), status_html(stage, str(error), failed=True, typed=typed), None

    def consult_spoken(self, audio_path: str | None):
        """…, and the microphone (cleared, so the next question is one press away)."""
        start = time.perf_counter()
        try:
            question = self.oracle.hear(audio_path).text
        except OracleError as error:
            yield *self._failed("hearing", error, typed=False), "", gr.update(value=None)
            raise _for_people(error) from None
        hear_ms = _elapsed_ms(start)
        yield (ball_html("consulting"), status_html("consulting"), None, heard_html(question),
               gr.update(value=None))
        try:
            reply = self.oracle.reply_to(question, hear_ms)
        except OracleError as error:
            yield *self._failed("consulting", error, typed=False), heard_html(question), gr.skip()
            raise _for_people(error) from None
        log_request("page, spoken", reply)
        yield (ball_html("consulting", reply.answer), status_html("consulting", "The answer surfaces…"), reply,
               heard_html(question), gr.skip())

    def consult_typed(self, question: str):
        try:
            reply = self.oracle.ask_text(question)
        except OracleError as error:
            yield *self._failed("consulting", error, typed=True), ""
            raise _for_people(error) from None
        log_request("page, typed", reply)
        yield (ball_html("consulting", reply.answer), status_html("consulting", "The answer surfaces…", typed=True),
               reply, heard_html(reply.question))

    # ---- the page: a question heard while it is spoken (the microphone streams) ----

    def hear_chunk(self, chunk: Audio | None, listening: Listening | None):
        """One microphone chunk -> (listening, live words). A new recording starts a new ``Listening``. The
        live words' ``data-seconds`` tell the page the server has audio: only then does it say to speak
        (Gradio drops the microphone's chunks until the server has taken the first one)."""
        if listening is None or listening.finished:
            listening = Listening(self.oracle, prepare_voice=self.prepare_voice, hearing_slots=self.hearing_slots,
                                  watch=self.abandoned.watch)
        if chunk is not None:
            listening.add(*chunk)
        return listening, live_html(listening.partial, listening.seconds, listening.heard_speech,
                                    listening.prepared_for is not None, listening.ended)

    def consult_streamed(self, listening: Listening | None):
        """The question has ended (Stop, or the end of speech): (ball, status, reply, heard, prepared voice,
        listening)."""
        if listening is None:
            listening = Listening(self.oracle, hearing_slots=self.hearing_slots)  # Stop before any audio: "no audio"
        try:
            heard = listening.finish()
        except OracleError as error:
            yield *self._failed("hearing", error, typed=False), "", None, None
            raise _for_people(error) from None
        reply = heard.reply
        log_request("page, streamed", reply)
        yield (ball_html("consulting", reply.answer), status_html("consulting", "The answer surfaces…"), reply,
               heard_html(reply.question), heard.speech, None)

    @staticmethod
    def forget(listening: Listening | None) -> None:
        """A visit ended: let go of what its recording prepared."""
        if listening is not None:
            listening.close()

    # ---- the page: speak (GPU on ZeroGPU), yielding (voice, ball, status, timings, history) ----

    def _voice(self, reply: Reply, prepared: PreparedSpeech | None) -> Iterator[Audio]:
        """The answer's voice: the one prepared while the question was spoken if it speaks this answer,
        else a fresh one."""
        if prepared is not None and prepared.ready and prepared.text == reply.answer:
            rate = self.oracle.sample_rate
            for chunk in self.abandoned.watch(prepared.chunks()):
                yield rate, chunk
            return
        if prepared is not None:
            prepared.close()
        yield from self.speak(reply.answer)

    def speak_for_page(self, reply: Reply | None, history: list[dict], prepared: PreparedSpeech | None = None):
        if reply is None:
            return
        typed = reply.hear_ms is None
        start = time.perf_counter()
        first_audio_ms = None
        chunks: list[np.ndarray] = []
        try:
            for rate, chunk in self._voice(reply, prepared):
                chunks.append(chunk)
                if first_audio_ms is None:
                    first_audio_ms = _elapsed_ms(start)
                    yield ((rate, chunk), ball_html("speaking", reply.answer),
                           status_html("speaking", typed=typed, answer=reply.answer), gr.skip(), gr.skip())
                else:
                    yield (rate, chunk), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except gr.Error as error:  # speak() turns the oracle's errors into gr.Error
            log.warning("speaking failed: %s", error)
        timings = timings_line(reply, first_audio_ms, self.oracle.engine_names)
        if not chunks:  # no voice this time: the written answer stands
            yield (gr.skip(), ball_html("done", reply.answer),
                   status_html("done", "The oracle lost its voice, but its answer stands.", typed=typed,
                               answer=reply.answer),
                   timings, self.remember(history, reply, None))
            return
        # The stream plays on in the browser; "done" comes when it ends (see finished()).
        yield gr.skip(), gr.skip(), gr.skip(), timings, self.remember(history, reply, np.concatenate(chunks))

    def remember(self, history: list[dict], reply: Reply, spoken: np.ndarray | None) -> list[dict]:
        """This visit's history with ``reply`` added, its spoken answer saved as one WAV in Gradio's cache.
        The file name is a number: no user text becomes a path."""
        history = list(history or [])[-(HISTORY_LIMIT - 1):]
        number = (history[-1]["number"] + 1) if history else 1
        wav = None
        if spoken is not None:
            wav = save_wav_to_cache(spoken, self.oracle.sample_rate, f"oracle-answer-{number}.wav")
        history.append({"number": number, "question": reply.question, "answer": reply.answer, "wav": wav})
        return history

    @staticmethod
    def finished(reply: Reply | None):
        """(ball, status) once the answer has played to its end."""
        if reply is None:
            return gr.skip(), gr.skip()
        return ball_html("done", reply.answer), status_html("done", typed=reply.hear_ms is None, answer=reply.answer)


def log_request(kind: str, reply: Reply, spoken_ms: float | None = None) -> None:
    """One line per request, with its timings (never what was asked or answered)."""
    parts = [f"answering {reply.answer_ms:.0f} ms"]
    if reply.hear_ms is not None:
        parts.insert(0, f"hearing {reply.hear_ms:.0f} ms")
    if spoken_ms is not None:
        parts.append(f"spoken in {spoken_ms:.0f} ms")
    log.info("%s: %s", kind, " · ".join(parts))
