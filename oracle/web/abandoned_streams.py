"""Closing spoken answers that Gradio abandoned.

Gradio 6.17 sometimes leaves a generator suspended at a ``yield`` instead of closing it: when a job is
cancelled just as its stream starts, the generator stays referenced from a traceback. It makes no more
audio, but it holds its voice engine's state (and a speaking slot's bookkeeping) for good. Every stream
the app hands Gradio is watched here, and one not resumed for ``idle_s`` is closed when the next starts.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
import weakref
from typing import Iterator, TypeVar

from oracle.limits import ABANDONED_STREAM_S

T = TypeVar("T")

log = logging.getLogger(__name__)


class AbandonedStreams:
    def __init__(self, idle_s: float = ABANDONED_STREAM_S):
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._last_active: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def watch(self, stream: Iterator[T]) -> Iterator[T]:
        """``stream``, closed for good if its consumer leaves it suspended for longer than ``idle_s``
        (and closed whenever the returned generator is closed)."""
        self.close_idle()
        last_active = [time.monotonic()]

        def active_at_each_chunk() -> Iterator[T]:
            try:
                for item in stream:
                    last_active[0] = time.monotonic()
                    yield item
                    last_active[0] = time.monotonic()
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()

        watched = active_at_each_chunk()
        with self._lock:
            self._last_active[watched] = last_active
        return watched

    def close_idle(self, idle_s: float | None = None) -> int:
        """Close the streams left suspended for more than ``idle_s`` (default: ``self.idle_s``); how many."""
        limit = self.idle_s if idle_s is None else idle_s
        now = time.monotonic()
        with self._lock:
            idle = [stream for stream, at in list(self._last_active.items()) if now - at[0] > limit]
        closed = 0
        for stream in idle:
            if inspect.getgeneratorstate(stream) != inspect.GEN_SUSPENDED:
                continue
            try:
                stream.close()
            except ValueError:  # it was resumed just now: not abandoned after all
                continue
            closed += 1
        if closed:
            log.warning("closed %d abandoned speech streams", closed)
        return closed
