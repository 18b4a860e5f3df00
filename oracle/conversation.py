"""One spoken question, from the microphone's first chunk to its answer: the conversation core.

A ``Conversation`` owns one recording. It is fed typed messages — ``add_file`` (a chunk as the browser
uploaded it), ``finish`` (Stop, or the end of speech), ``close`` — and gives typed results: the words
so far (``partial``), whether an answer is prepared (``prepared``), whether the question ended by itself
(``ended``), and finally a ``Turn`` (the reply and its prepared voice) or an ``OracleError``.

The table is ``TRANSITIONS``: a move it does not list is never made (a late chunk, a second Stop, a hearing
that finishes after the tab closed all find their conversation elsewhere and do nothing). Every thread
checks the state before each engine call, so a closed conversation starts no more work.

| state       | entered by                                  | what runs                                          | leaves for                  |
|-------------|---------------------------------------------|----------------------------------------------------|-----------------------------|
| listening   | the first chunk                              | each chunk is decoded and checked like an upload (``oracle.audio``) and scored by the VAD (``oracle.endpointing``); the words so far are heard every ``partial_every_s`` while the person speaks; at each pause of ``pause_s`` the question as it would end there is heard and answered, and (CPU voice) its first clause spoken | ended, failed, closed |
| ended       | ``finish()``                                 | the question as it ended is heard, unless the last pause heard exactly it; then answered, unless the pause's answer was for the same words | answered, failed, closed |
| answered    | ``finish()`` returns its ``Turn``            | nothing: the recording is let go                   | closed                      |
| failed      | a chunk refused, a check failed, an engine raised or missed its deadline | nothing: the failure is the result, logged once, never retried; ``finish()`` returns it at once | closed |
| closed      | ``close()``: answered, tab gone, idle for ``LISTEN_IDLE_S``, server stopping | nothing; audio, VAD and an unplayed prepared voice are let go | — |

Hearing runs on the conversation's own threads (a worker for the words so far and the pauses; one more for
the final words if the worker is busy with a caption when the question ends, so captions never hold up a
final transcription), each taking one of ``hearing_slots`` shared by every visit while it transcribes. A
thread ends when it has nothing left to do, and every wait has a deadline: an engine that hangs costs the
person ``HEARING_DEADLINE_S`` at most, then a kind message.

``Conversations`` owns every open conversation of the server: it closes those whose visit went silent
(no chunk for ``LISTEN_IDLE_S``) and, when the server stops, all of them.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import soxr

from oracle.audio import SAMPLE_RATE, mix_to_mono, read_channels
from oracle.endpointing import Endpointer
from oracle.engines import Transcription
from oracle.errors import BadAudio, EngineUnavailable, HearingTooSlow, NoAudio, NoSpeech, OracleError
from oracle.languages import Language, LanguageOrAuto
from oracle.limits import HEARING_DEADLINE_S, LISTEN_IDLE_S
from oracle.pipeline import STREAMED, Oracle, Reply, clean_question, elapsed_ms

# Heard after the last speech, so that a word's fading end is not cut off.
TAIL_S = 0.2
# Quiet for less than this, the person is still speaking and a caption is worth hearing; longer, a pause may
# be starting, and a caption heard then would hold up the pause's hearing (one hearing slot).
STILL_SPEAKING_S = 0.1


class State(enum.Enum):
    LISTENING = "listening"
    ENDED = "ended"
    ANSWERED = "answered"
    FAILED = "failed"
    CLOSED = "closed"


LISTENING, ENDED, ANSWERED, FAILED, CLOSED = State
TRANSITIONS: dict[State, frozenset[State]] = {
    LISTENING: frozenset({ENDED, FAILED, CLOSED}),
    ENDED: frozenset({ANSWERED, FAILED, CLOSED}),
    ANSWERED: frozenset({CLOSED}),
    FAILED: frozenset({CLOSED}),
    CLOSED: frozenset(),
}

log = logging.getLogger(__name__)


class PreparedSpeech:
    """A spoken answer whose first chunk is ready: ``chunks()`` gives it at once, then the rest (once)."""

    def __init__(self, text: str, language: Language, stream: Iterator[np.ndarray]):
        self.text = text
        self.language = language
        self._stream = stream
        self.first = next(stream, None)

    @property
    def ready(self) -> bool:
        return self.first is not None

    def chunks(self) -> Iterator[np.ndarray]:
        if self.first is None:
            return
        first, self.first = self.first, None
        yield first
        yield from self._stream

    def close(self) -> None:
        self.first = None
        self._stream.close()


@dataclass(frozen=True)
class Turn:
    """The answer object: a reply and, when it was prepared while the question was spoken, its voice (the
    speaking step owns it from here; it plays it only if it speaks this very answer)."""

    reply: Reply
    voice: PreparedSpeech | None = None

    def voice_for(self, answer: str, language: Language) -> PreparedSpeech | None:
        voice = self.voice
        if voice is not None and voice.ready and (voice.text, voice.language) == (answer, language):
            return voice
        if voice is not None:
            voice.close()
        return None


@dataclass
class _Guess:
    """The answer prepared for the question as it would have ended at a pause."""

    question: str
    language: Language
    answer: str
    voice: PreparedSpeech | None

    def is_for(self, question: str, language: Language) -> bool:
        return (self.question, self.language) == (question, language)


class _Hearing:
    """One transcription of ``audio[:cut]`` under way, or done: its result or its error."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.heard: Transcription | None = None
        self.error: OracleError | None = None


class Conversation:
    def __init__(self, oracle: Oracle, *, language: LanguageOrAuto = None, hint: Language | None = None,
                 prepare_voice: bool = True, hearing_slots: threading.Semaphore | None = None):
        self.oracle = oracle
        self.settings = oracle.settings
        self.language, self.hint = language, hint
        self.prepare_voice = prepare_voice
        self._slots = hearing_slots or threading.BoundedSemaphore(1)
        self._limit = int(self.settings.max_question_s * SAMPLE_RATE)
        self._audio = np.zeros(self._limit, dtype=np.float32)  # calloc'd: untouched pages cost nothing
        self._size = 0
        self._format: tuple[int, int] | None = None  # (rate, channels) of the chunks
        self._resampler: soxr.ResampleStream | None = None
        self._endpointer = Endpointer()
        self._lock = threading.Lock()
        self._state = LISTENING
        self._failure: OracleError | None = None
        self._failure_told = False
        # (cut, language) -> the question as it would end at ``cut``, heard in ``language`` (None: told from it)
        self._hearings: dict[tuple[int, LanguageOrAuto], _Hearing] = {}
        self._partial_at = 0
        self._worker: threading.Thread | None = None
        self._prepared_or_not = threading.Condition(self._lock)  # the worker is done with ``_preparing``
        self._guess: _Guess | None = None
        self._preparing: tuple[int, LanguageOrAuto] | None = None  # (cut, language) the worker hears and answers now
        self.partial = ""
        self._told_language: Language | None = None  # the language the last hearing heard
        self.last_active = time.monotonic()

    # ---- what the page is told while the person speaks ----

    @property
    def state(self) -> State:
        return self._state

    @property
    def listening(self) -> bool:
        return self._state is LISTENING

    @property
    def failed(self) -> bool:
        return self._state is FAILED

    def failure_to_tell(self) -> OracleError | None:
        """Why this recording failed, the first time it is asked (then None): the stream tells it once."""
        with self._lock:
            if self._failure is None or self._failure_told:
                return None
            self._failure_told = True
            return self._failure

    @property
    def seconds(self) -> float:
        return self._size / SAMPLE_RATE

    @property
    def heard_speech(self) -> bool:
        return self._endpointer.has_speech

    @property
    def prepared(self) -> bool:
        return self._guess is not None

    @property
    def ended(self) -> bool:
        """The question has ended by itself: speech, then ``end_of_speech_s`` of silence (or no room left)."""
        full = self._size >= self._limit
        return self._endpointer.ended(self.settings.end_of_speech_s) or (full and self._endpointer.has_speech)

    # ---- messages ----

    def add_file(self, path: str) -> None:
        """One microphone chunk as the browser uploaded it: decoded and checked like any recording
        (``oracle.audio``). A chunk that is no recording ends the conversation as failed."""
        if not self.listening:
            return
        try:
            channels, rate = read_channels(path, self.settings.max_question_s)
        except OracleError as error:
            self._fail(error, "a microphone chunk was refused")
            return
        self.add(channels, rate)

    def add(self, channels: np.ndarray, rate: int) -> None:
        """Decoded samples, (samples, channels) float32 at ``rate``; audio past the longest question is dropped."""
        if not self.listening:
            return
        self.last_active = time.monotonic()
        if self._format is None:
            self._format = (rate, channels.shape[1])
            if rate != SAMPLE_RATE:
                self._resampler = soxr.ResampleStream(rate, SAMPLE_RATE, channels.shape[1], dtype="float32")
        elif self._format != (rate, channels.shape[1]):
            self._fail(BadAudio(), "the microphone's format changed mid-recording")
            return
        if self._resampler is not None:
            channels = self._resampler.resample_chunk(np.ascontiguousarray(channels, dtype=np.float32))
        mono = np.clip(mix_to_mono(channels), -1.0, 1.0) if channels.shape[0] else np.zeros(0, np.float32)
        with self._lock:
            if not self.listening:
                return
            mono = mono[: self._limit - self._size]
            self._audio[self._size:self._size + mono.size] = mono
            self._size += mono.size
            self._endpointer.feed(mono)
        self._start_worker()

    def finish(self, deadline_s: float = HEARING_DEADLINE_S) -> Turn | OracleError:
        """The question as it ended: its ``Turn``, or the ``OracleError`` to tell the person."""
        start = time.perf_counter()
        with self._lock:
            ended = self._move(ENDED)
            state, failure = self._state, self._failure
        if state is FAILED:
            return failure
        if not ended:  # answered, closed or being answered already: nothing more to give
            return NoAudio()
        try:
            turn = self._answer_the_question(start, start + deadline_s)
        except OracleError as error:
            self._fail(error, "the question could not be answered")
            return error
        with self._lock:
            answered = self._move(ANSWERED)
        self._let_go()
        if not answered:  # closed while it was being heard: the tab is gone
            if turn.voice is not None:
                turn.voice.close()
            return NoAudio()
        return turn

    def _answer_the_question(self, start: float, deadline: float) -> Turn:
        audio = self.oracle.check_recording(self._audio[:self._size])
        cut = min(self._cut() or audio.size, audio.size)
        heard = self._final_words(cut, deadline)
        question = clean_question(heard.text)
        if not re.search(r"\w", question):
            raise NoSpeech()
        hear_ms = elapsed_ms(start)
        self._wait_for_preparing(cut, heard, question, deadline)
        with self._lock:
            guess, self._guess = self._guess, None
        if guess is not None and guess.is_for(question, heard.language):
            return Turn(Reply(question, guess.answer, heard.language, STREAMED, hear_ms, 0.0), guess.voice)
        self._drop(guess)
        return Turn(self.oracle.reply_to(question, heard.language, STREAMED, hear_ms))

    def close(self) -> None:
        """Forget this recording: nothing more is heard, and an unplayed prepared voice is let go."""
        with self._lock:
            self._move(CLOSED)
        self._let_go()

    def _move(self, to: State) -> bool:
        """Enter state ``to`` if ``TRANSITIONS`` allows it from the current one (called with the lock held)."""
        if to not in TRANSITIONS[self._state]:
            return False
        self._state = to
        return True

    # ---- hearing, on the conversation's own threads ----

    def _cut(self) -> int | None:
        """Where the question ends if it ends now: after its last speech and ``TAIL_S``; None before any."""
        end = self._endpointer.speech_end_sample
        return None if end is None else min(self._size, end + int(TAIL_S * SAMPLE_RATE))

    def _hearing_language(self) -> LanguageOrAuto:
        """The language to hear in: the one asked for, else None (auto: every hearing tells the language from
        the whole question so far, the browser's language ``hint`` only weighing in). Telling it reads a
        window fitted to the question, so it is done at each pause, while the person still speaks."""
        return self.language

    def _next_job(self) -> tuple[str, int] | None:
        """What the worker hears next (called with the lock held): the question as it would end at a
        pause, else the words so far while the person speaks; nothing once the question has ended."""
        if not self.listening or not self._endpointer.has_speech:
            return None
        cut = self._cut()
        silence = self._endpointer.silence_after_speech_s
        if silence >= max(self.settings.pause_s, TAIL_S) and (cut, self._hearing_language()) not in self._hearings:
            return "pause", cut
        if silence < STILL_SPEAKING_S and self._size - self._partial_at >= self.settings.partial_every_s * SAMPLE_RATE:
            return "partial", self._size
        return None

    def _start_worker(self) -> None:
        with self._lock:
            if self._worker is not None or self._next_job() is None:
                return
            self._worker = threading.Thread(target=self._work, name="conversation", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                job = self._next_job()
                if job is None:
                    self._worker = None
                    return
                kind, cut = job
                if kind == "partial":
                    self._partial_at = cut
                    hearing = None
                else:
                    language = self._hearing_language()
                    hearing = self._hearings[(cut, language)] = _Hearing()
            try:
                if kind == "partial":
                    self._caption(cut)
                else:
                    with self._lock:
                        self._preparing = (cut, language)
                    try:
                        self._hear(cut, hearing, HEARING_DEADLINE_S, language)
                        if hearing.heard is not None:
                            self._prepare(hearing.heard)
                    finally:
                        with self._lock:
                            self._preparing = None
                            self._prepared_or_not.notify_all()
            except Exception as error:  # a bug, out of memory: the question fails once, the thread ends
                log.exception("conversation worker failed")
                self._fail(EngineUnavailable(), f"its worker raised {type(error).__name__}")

    def _caption(self, cut: int) -> None:
        """The words so far, for the page: skipped when every hearing slot is busy, as it is only a caption. In
        auto, in the language the last hearing told (telling it once per pause is enough), if one did."""
        language = self._hearing_language() or self._told_language
        if not self._slots.acquire(timeout=0):
            return
        try:
            if not self.listening:
                return
            heard = self._transcribe(self._audio[:cut].copy(), language)
        except OracleError:
            return  # _transcribe has failed the conversation if the engine broke
        finally:
            self._slots.release()
        if heard is not None:
            self._heard_so_far(heard)

    def _hear(self, cut: int, hearing: _Hearing, slot_wait_s: float, language: LanguageOrAuto) -> None:
        """The question as it would end at ``cut``, in ``language`` (None: auto)."""
        self._hear_into(hearing, self._audio[:cut].copy(), language, slot_wait_s)
        if hearing.heard is not None:
            self._heard_so_far(hearing.heard)

    def _heard_so_far(self, heard: Transcription) -> None:
        with self._lock:
            self.partial, self._told_language = heard.text, heard.language

    def _hear_into(self, hearing: _Hearing, audio: np.ndarray, language: LanguageOrAuto, slot_wait_s: float) -> None:
        """``audio``'s words in ``language`` (None: auto) into ``hearing``, or why there are none."""
        try:
            if not self._slots.acquire(timeout=slot_wait_s):
                raise HearingTooSlow()
            try:
                if not self._wanted():
                    raise NoAudio()  # closed or failed while waiting for a slot: nobody will read it
                hearing.heard = self.oracle.hear_audio(audio, language, self.hint) if audio.size else None
                if hearing.heard is None:
                    raise NoSpeech()
            finally:
                self._slots.release()
        except (NoSpeech, NoAudio) as error:
            hearing.error = error  # only this cut: more speech may follow
        except OracleError as error:
            hearing.error = error
            self._fail(error, "hearing failed")
        except Exception as error:  # a bug: told as an outage, once
            log.exception("hearing a streamed question failed")
            hearing.error = EngineUnavailable()
            self._fail(hearing.error, f"hearing raised {type(error).__name__}")
        finally:
            hearing.done.set()

    def _transcribe(self, audio: np.ndarray, language: LanguageOrAuto) -> Transcription | None:
        try:
            return self.oracle.hear_audio(audio, language, self.hint)
        except NoSpeech:
            return None
        except OracleError as error:
            self._fail(error, "hearing failed")
            raise

    def _final_words(self, cut: int, deadline: float) -> Transcription:
        """The words of the question as it ended: known already when the last pause heard this very cut in
        the right language, else heard now (by the worker if it is on it, else by a thread of its own),
        within ``deadline``."""
        start_of_wait = time.perf_counter()
        language = self._hearing_language()
        return self._wait_for(self._hearing_of(cut, language, deadline), start_of_wait, deadline)

    def _hearing_of(self, cut: int, language: LanguageOrAuto, deadline: float) -> _Hearing:
        """The hearing of ``cut`` in ``language``: the one under way or done, else one started now."""
        with self._lock:
            hearing = self._hearings.get((cut, language))
            mine = hearing is None
            if mine:
                hearing = self._hearings[(cut, language)] = _Hearing()
        if mine:
            threading.Thread(target=self._hear, name="conversation-final", daemon=True,
                             args=(cut, hearing, max(0.0, deadline - time.perf_counter()), language)).start()
        return hearing

    def _wait_for_preparing(self, cut: int, heard: Transcription, question: str, deadline: float) -> None:
        """When the worker heard these very words at the pause and is preparing their answer and voice now, wait
        for it (within ``deadline``) rather than answer and speak them a second time beside it."""
        with self._lock:
            guess, preparing = self._guess, self._preparing
        if guess is not None and guess.is_for(question, heard.language):
            return
        if preparing == (cut, self._hearing_language()):
            with self._lock:
                self._prepared_or_not.wait_for(lambda: self._preparing != preparing,
                                               timeout=max(0.0, deadline - time.perf_counter()))

    def _wait_for(self, hearing: _Hearing, since: float, deadline: float) -> Transcription:
        if not hearing.done.wait(max(0.0, deadline - time.perf_counter())):
            log.warning("hearing engine %s missed its %.0f s deadline", self.oracle.transcriber.name,
                        deadline - since)
            raise HearingTooSlow()
        if hearing.error is not None:
            raise hearing.error
        return hearing.heard

    def _prepare(self, heard: Transcription) -> None:
        """Answer the question as it would end at this pause (and speak its first clause), ahead of time."""
        question = clean_question(heard.text)
        guess = self._guess
        if guess is not None and guess.is_for(question, heard.language):
            return
        if not self._wanted():
            return
        try:
            answer = self.oracle.answer(question, heard.language)
            voice = PreparedSpeech(answer, heard.language, self.oracle.speak(answer, heard.language)) \
                if self.prepare_voice and self._wanted() else None
        except OracleError as error:  # answering will be tried once more when the question ends
            log.info("no answer prepared at a pause: %s", type(error).__name__)
            return
        with self._lock:
            keep = self._wanted()
            if keep:
                guess, self._guess = self._guess, _Guess(question, heard.language, answer, voice)
        self._drop(guess if keep else _Guess(question, heard.language, answer, voice))

    def _wanted(self) -> bool:
        """Whether hearing or answering is still of use: the question is being spoken or has just ended."""
        return self._state in (LISTENING, ENDED)

    # ---- endings ----

    def _fail(self, error: OracleError, what: str) -> None:
        with self._lock:
            if not self._move(FAILED):
                return
            self._failure = error
        log.warning("conversation failed: %s (%s)", what, type(error).__name__)
        self._let_go()

    def _let_go(self) -> None:
        """Free the recording and an unplayed prepared voice (threads still running see the state and stop)."""
        with self._lock:
            guess, self._guess = self._guess, None
            self._audio = np.zeros(0, dtype=np.float32)
            self._size = 0
            self._resampler = None
        self._drop(guess)

    @staticmethod
    def _drop(guess: _Guess | None) -> None:
        if guess is not None and guess.voice is not None:
            guess.voice.close()


class Conversations:
    """Every open conversation of the server: opens them, and closes those whose visit went silent.

    A recording streamed by a microphone is known by its ``stream`` (any object that lives as long as the stream,
    kept weakly): every chunk of that stream finds the same conversation, even once it has ended, so a chunk
    that arrives late is refused by it (``Conversation.add_file`` does nothing once it no longer listens)
    and never opens a recording of its own."""

    def __init__(self, oracle: Oracle, prepare_voice: bool, hearing_slots: threading.Semaphore,
                 idle_s: float = LISTEN_IDLE_S):
        self.oracle, self.prepare_voice, self.hearing_slots = oracle, prepare_voice, hearing_slots
        self.idle_s = idle_s
        self._open: set[Conversation] = set()
        self._of_stream: weakref.WeakKeyDictionary[object, Conversation] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def open(self, language: LanguageOrAuto = None, hint: Language | None = None,
             stream: object | None = None) -> Conversation:
        self.close_idle()
        conversation = Conversation(self.oracle, language=language, hint=hint, prepare_voice=self.prepare_voice,
                                    hearing_slots=self.hearing_slots)
        with self._lock:
            self._open.add(conversation)
            if stream is not None:
                self._of_stream[stream] = conversation
        return conversation

    def of_stream(self, stream: object | None) -> Conversation | None:
        """The conversation ``stream``'s first chunk opened, whatever its state now; None before that."""
        if stream is None:
            return None
        with self._lock:
            return self._of_stream.get(stream)

    def close_idle(self) -> int:
        """Close conversations no chunk reached for ``idle_s`` (the visit left), and forget finished ones."""
        now = time.monotonic()
        with self._lock:
            finished = {c for c in self._open if c.state in (ANSWERED, FAILED, CLOSED)}
            idle = {c for c in self._open - finished if c.state == LISTENING and now - c.last_active > self.idle_s}
            self._open -= finished | idle
        for conversation in idle:
            conversation.close()
        if idle:
            log.info("closed %d recordings whose visits went silent", len(idle))
        return len(idle)

    def close_all(self) -> int:
        with self._lock:
            conversations, self._open = self._open, set()
        for conversation in conversations:
            conversation.close()
        return len(conversations)
