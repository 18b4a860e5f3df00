"""Primary and backup engines: the dual-engine pattern (primary, backup, health, recovery).

A primary that fails (error, timeout, missing weights, crash before any audio was sent) hands the
request to its embedded backup, is marked unhealthy, and is tried again after a cool-down. A voice
never changes in the middle of an answer: once a chunk has been sent, a crash ends that stream.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterator, TypeVar

import numpy as np
import soxr

from oracle.engines import Transcription
from oracle.languages import Language, LanguageOrAuto

COOL_DOWN_S = 60.0

log = logging.getLogger(__name__)
T = TypeVar("T")


class Health:
    """Whether the primary may be tried now; after a failure it rests for ``cool_down_s``."""

    def __init__(self, cool_down_s: float = COOL_DOWN_S, clock: Callable[[], float] = time.monotonic):
        self.cool_down_s = cool_down_s
        self._clock = clock
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    @property
    def usable(self) -> bool:
        with self._lock:
            return self._failed_at is None or self._clock() - self._failed_at >= self.cool_down_s

    def failed(self) -> None:
        with self._lock:
            self._failed_at = self._clock()

    def recovered(self) -> None:
        with self._lock:
            self._failed_at = None


class _Failover:
    def __init__(self, primary, backup, cool_down_s: float = COOL_DOWN_S):
        self.primary = primary
        self.backup = backup
        self.health = Health(cool_down_s)

    @property
    def name(self) -> str:
        """The engine that answers now."""
        return self.primary.name if self.health.usable else f"{self.backup.name} (backup for {self.primary.name})"

    def warm_up(self) -> None:
        """Warm both; a primary that fails here starts out resting, and the backup answers."""
        for engine in (self.primary, self.backup):
            warm_up = getattr(engine, "warm_up", None)
            if warm_up is None:
                continue
            if engine is self.backup:
                warm_up()
                continue
            try:
                warm_up()
            except Exception as error:
                self._switch("warming up", error)

    def _call(self, operation: str, primary_call: Callable[[], T], backup_call: Callable[[], T]) -> T:
        if self.health.usable:
            try:
                result = primary_call()
            except Exception as error:  # an outage or any crash of the primary: what the backup is for
                self._switch(operation, error)
            else:
                self.health.recovered()
                return result
        return backup_call()

    def _switch(self, operation: str, error: Exception) -> None:
        self.health.failed()
        log.warning("%s engine %r failed (%s: %s); %s answers this request and the next %.0f s",
                    operation, self.primary.name, type(error).__name__, error, self.backup.name,
                    self.health.cool_down_s)


class FailoverTranscriber(_Failover):
    def transcribe(self, audio: np.ndarray, language: LanguageOrAuto = None,
                   hint: Language | None = None) -> Transcription:
        return self._call("hearing", lambda: self.primary.transcribe(audio, language, hint),
                          lambda: self.backup.transcribe(audio, language, hint))


class FailoverAnswerer(_Failover):
    @property
    def system_prompt(self) -> str | None:
        """The primary's: the backup (the book) has none, and its proverbs never echo one."""
        return getattr(self.primary, "system_prompt", None)

    def answer(self, question: str, language: Language) -> str:
        return self._call("answering", lambda: self.primary.answer(question, language),
                          lambda: self.backup.answer(question, language))


class FailoverSpeaker(_Failover):
    """Speaks with the primary's voice at the primary's sample rate; the backup is resampled to it."""

    @property
    def sample_rate(self) -> int:
        return self.primary.sample_rate

    def stream(self, text: str, language: Language) -> Iterator[np.ndarray]:
        if self.health.usable:
            chunks = self.primary.stream(text, language)
            try:
                first = next(chunks)
            except StopIteration:
                self.health.recovered()
                return
            except Exception as error:
                self._switch("speaking", error)
            else:
                try:
                    yield first
                    yield from chunks
                except Exception as error:
                    # Audio is already playing in the primary's voice: end cleanly, never switch voices.
                    self.health.failed()
                    log.warning("speaking engine %r crashed mid-answer (%s: %s); the stream ends here",
                                self.primary.name, type(error).__name__, error)
                    return
                finally:
                    chunks.close()  # a listener who left stops the primary's generation too
                self.health.recovered()
                return
        for chunk in self.backup.stream(text, language):
            yield self._resampled(chunk)

    def _resampled(self, chunk: np.ndarray) -> np.ndarray:
        if self.backup.sample_rate == self.primary.sample_rate:
            return chunk
        return soxr.resample(chunk, self.backup.sample_rate, self.primary.sample_rate)
