"""Hearing a question while it is being spoken, so that little is left to do when it ends.

One ``Listening`` per recording (a visit keeps it in its ``gr.State``). The microphone's chunks go to
``add`` as they come, in whatever form a browser sends them; ``Listening`` keeps the audio so far (at most
the longest question), scores it with the VAD (``oracle.endpointing``) and, on one background thread
of its own, transcribes it:

- while the person talks, the whole recording so far every ``partial_every_s`` (``partial``: the words so
  far, for the page to show);
- at each pause of ``pause_s``, the question as it would end there: the audio up to the end of its speech
  plus ``TAIL_S``. Those words are the *final* words if nothing more is said, and with them the answer is
  prepared ahead of time: the answerer chooses the proverb and, if ``prepare_voice``, the voice speaks
  its first clause.

``finish`` (after Stop, or after ``ended`` in hands-free mode) cuts the question the same way. When the
cut is the one heard at the last pause, its words are already known; when those words are the ones the
answer was prepared for, the prepared answer and voice are used. Anything else is done afresh and the
guess is dropped, so an answer given is always the answer to the final words.

Whisper's cost hardly depends on the length (its 30 s window sets the floor: ~0.4 s per pass for tiny.en
on two cores), so one pass at a time, never more often than the settings say, is what a small CPU affords.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import soxr

from oracle.audio import SAMPLE_RATE, SILENCE_PEAK
from oracle.endpointing import Endpointer
from oracle.errors import EngineUnavailable, NoAudio, NoSound, NoSpeech, OracleError, TooShort
from oracle.pipeline import Oracle, Reply, clean_question

# Heard after the last speech, so that a word's fading end is not cut off.
TAIL_S = 0.2
# The longest ``finish`` waits for a transcription already under way before giving up.
FINISH_TIMEOUT_S = 20.0

log = logging.getLogger(__name__)


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def as_float_mono(data: np.ndarray) -> np.ndarray:
    """Samples as a browser or a file gives them (int16, int32, float; mono or channels last) -> mono
    float32 in [-1, 1]."""
    data = np.asarray(data)
    if np.issubdtype(data.dtype, np.integer):
        samples = data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)
    else:
        samples = np.nan_to_num(data.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return np.clip(samples.reshape(-1), -1.0, 1.0)


class PreparedSpeech:
    """A spoken answer whose first chunk is ready: ``chunks()`` gives it at once, then the rest."""

    def __init__(self, text: str, stream: Iterator[np.ndarray]):
        self.text = text
        self._stream = stream
        self.first = next(stream, None)

    @property
    def ready(self) -> bool:
        """Not yet spoken (``chunks`` gives a prepared voice once)."""
        return self.first is not None

    def chunks(self) -> Iterator[np.ndarray]:
        if self.first is None:
            return
        first, self.first = self.first, None
        yield first
        yield from self._stream

    def close(self) -> None:
        self._stream.close()


@dataclass(frozen=True)
class Heard:
    """A finished question: the reply, and its voice (its first chunk ready) when it runs on this CPU.

    ``reply.hear_ms`` is what was left to do after the question ended: nothing but a look-up when the words
    were heard and answered at the pause before; ``reply.answer_ms`` is 0 when the answer was ready then."""

    reply: Reply
    speech: PreparedSpeech | None


@dataclass
class _Guess:
    cut: int
    question: str
    answer: str | None = None
    speech: PreparedSpeech | None = None
    error: OracleError | None = None


class Listening:
    """``hearing_slots``: shared by every visit's ``Listening``, so that however many people speak at once, at
    most that many transcriptions (and prepared answers) run together on the CPU. ``watch``: what a prepared
    voice is handed to, so that one nobody plays (the person left) is closed in time
    (``oracle.web.abandoned_streams``)."""

    def __init__(self, oracle: Oracle, prepare_voice: bool = True,
                 hearing_slots: threading.Semaphore | None = None,
                 watch: Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]] = iter):
        self.oracle = oracle
        self._slots = hearing_slots or threading.Semaphore(1)
        self._watch = watch
        self.settings = oracle.settings
        self.prepare_voice = prepare_voice
        self._limit = int(self.settings.max_question_s * SAMPLE_RATE)
        self._audio = np.zeros(self._limit, dtype=np.float32)
        self._size = 0
        self._peak = 0.0
        self._rate: int | None = None
        self._resampler: soxr.ResampleStream | None = None
        self._endpointer = Endpointer()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._idle = threading.Condition(self._lock)
        self._partial_at = 0  # samples covered by the last transcription of everything so far
        self._words: dict[int, str] = {}  # cut -> words heard in audio[:cut]
        self._guess: _Guess | None = None
        self._finished = False
        self._closed = False
        self.partial = ""

    # ---- while the person speaks ----

    def add(self, sample_rate: int, data: np.ndarray) -> None:
        """One chunk from the microphone. Audio beyond the longest question is ignored."""
        if self._finished or data is None or np.asarray(data).size == 0:
            return
        samples = self._resample(int(sample_rate), as_float_mono(data))
        with self._lock:
            room = self._limit - self._size
            samples = samples[:room]
            self._audio[self._size:self._size + samples.size] = samples
            self._size += samples.size
            if samples.size:
                self._peak = max(self._peak, float(np.abs(samples).max()))
            self._endpointer.feed(samples)
        self._schedule()

    def _resample(self, sample_rate: int, samples: np.ndarray) -> np.ndarray:
        if sample_rate != self._rate:
            self._rate = sample_rate
            self._resampler = None if sample_rate == SAMPLE_RATE else soxr.ResampleStream(
                sample_rate, SAMPLE_RATE, 1, dtype="float32")
        if self._resampler is None:
            return samples
        return self._resampler.resample_chunk(samples)

    @property
    def seconds(self) -> float:
        return self._size / SAMPLE_RATE

    @property
    def full(self) -> bool:
        return self._size >= self._limit

    @property
    def finished(self) -> bool:
        """``finish`` or ``close`` was called: this recording takes no more audio."""
        return self._finished

    @property
    def heard_speech(self) -> bool:
        return self._endpointer.has_speech

    @property
    def ended(self) -> bool:
        """The question has ended by itself: speech, then ``end_of_speech_s`` of silence (or no room left)."""
        return self._endpointer.ended(self.settings.end_of_speech_s) or (self.full and self._endpointer.has_speech)

    @property
    def prepared_for(self) -> str | None:
        """The words an answer is prepared for, if any."""
        guess = self._guess
        return guess.question if guess is not None else None

    def _cut(self) -> int | None:
        """Where the question ends if it ends now: after its last speech and ``TAIL_S``, or None before
        any speech."""
        end = self._endpointer.speech_end_sample
        if end is None:
            return None
        return min(self._size, end + int(TAIL_S * SAMPLE_RATE))

    def _next_job(self) -> tuple[str, int] | None:
        """What the worker should transcribe next, if anything (called with the lock held). Once the question
        has ended, only the question as it ended."""
        if self._closed or not self._endpointer.has_speech:
            return None
        cut = self._cut()
        paused = self._endpointer.silence_after_speech_s >= max(self.settings.pause_s, TAIL_S)
        if (paused or self._finished) and cut not in self._words:
            return "pause", cut
        if self._finished:
            return None
        if self._endpointer.silence_after_speech_s < self.settings.pause_s and \
                self._size - self._partial_at >= self.settings.partial_every_s * SAMPLE_RATE:
            return "partial", self._size
        return None

    def _schedule(self) -> None:
        with self._lock:
            if self._worker is not None or self._next_job() is None:
                return
            self._worker = threading.Thread(target=self._work, name="listening", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                job = self._next_job()
                if job is None:
                    self._worker = None
                    self._idle.notify_all()
                    return
                kind, cut = job
                audio = self._audio[:cut].copy()
                if kind == "partial":
                    self._partial_at = cut
            if not self._slots.acquire(timeout=FINISH_TIMEOUT_S):
                log.warning("no hearing slot free for %.0f s; this recording is heard when it ends", FINISH_TIMEOUT_S)
                with self._lock:
                    self._worker = None
                    self._idle.notify_all()
                return
            try:
                try:
                    words = self._transcribe(audio)
                except OracleError:
                    words = None  # ``finish`` tries again and reports it
                with self._lock:
                    if words is not None:
                        if kind == "pause":
                            self._words[cut] = words
                        self.partial = words
                if kind == "pause" and words is not None:
                    self._prepare(cut, words)
            finally:
                self._slots.release()

    def _prepare(self, cut: int, words: str) -> None:
        """Prepare the answer to ``words``, as if the question ended at ``cut``."""
        question = clean_question(words)
        if self._guess is not None and self._guess.question == question:
            self._guess.cut = cut
            return
        guess = _Guess(cut, question)
        if re.search(r"\w", question):
            try:
                guess.answer = self.oracle.answer(question)
                if self.prepare_voice:
                    guess.speech = PreparedSpeech(guess.answer, self._watch(self.oracle.speak(guess.answer)))
            except OracleError as error:
                guess.error = error
        with self._lock:
            if self._closed:
                stale = guess
            else:
                stale, self._guess = self._guess, guess
        self._drop(stale)

    @staticmethod
    def _drop(guess: _Guess | None) -> None:
        if guess is not None and guess.speech is not None:
            guess.speech.close()

    def _transcribe(self, audio: np.ndarray) -> str:
        try:
            return self.oracle.transcriber.transcribe(audio).text
        except OracleError:
            raise
        except Exception as error:
            log.exception("hearing engine %s failed", self.oracle.transcriber.name)
            raise EngineUnavailable("The oracle could not hear you just now. Please try again.") from error

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until nothing is being transcribed or prepared; False if still busy after ``timeout_s``."""
        with self._lock:
            return self._idle.wait_for(lambda: self._worker is None, timeout=timeout_s)

    # ---- when the question has ended ----

    def finish(self) -> Heard:
        """The question as it ended: its words, the answer and, if it was prepared, its voice.

        Raises the oracle's friendly errors for no audio, too short, a silent (muted) microphone, no
        speech, or no words."""
        start = time.perf_counter()
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            self._resampler = None
            if tail.size:
                self.add(SAMPLE_RATE, tail)
        with self._lock:
            self._finished = True
            size, peak = self._size, self._peak
        if size == 0:
            raise NoAudio()
        if size < self.settings.min_question_s * SAMPLE_RATE:
            raise TooShort()
        if peak < SILENCE_PEAK:
            raise NoSound()
        if not self._endpointer.has_speech:
            raise NoSpeech()
        # The worker hears the question as it ended (unless it already has, at the pause before Stop) and
        # prepares its answer: the same path as a guess at a pause, so such a guess is simply kept.
        self._schedule()
        if not self.wait_idle(FINISH_TIMEOUT_S):
            log.warning("hearing was still running %.0f s after the question ended", FINISH_TIMEOUT_S)
        cut = self._cut()
        words = self._words.get(cut)
        if words is None:  # the worker could not hear it (its engine failed): once more, to say why
            words = self._transcribe(self._audio[:cut].copy())
        question = clean_question(words)
        if not re.search(r"\w", question):
            raise NoSpeech()
        hear_ms = _elapsed_ms(start)
        guess, self._guess = self._guess, None
        if guess is not None and guess.question == question and guess.answer is not None:
            return Heard(Reply(question, guess.answer, hear_ms, 0.0), guess.speech)
        self._drop(guess)
        answer_start = time.perf_counter()
        answer = self.oracle.answer(question)
        return Heard(Reply(question, answer, hear_ms, _elapsed_ms(answer_start)), None)

    def close(self) -> None:
        """Forget this recording: stop preparing, and let go of a prepared voice."""
        with self._lock:
            self._finished = self._closed = True
            guess, self._guess = self._guess, None
        self._drop(guess)
