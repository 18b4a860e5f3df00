"""Generators (the spoken answers) that Gradio 6.17.3 abandons, or whose failure it does not clean up.

``AbandonedStreams``: Gradio sometimes leaves a generator suspended at a ``yield`` instead of closing it: when a
job is cancelled just as its stream starts, the generator stays referenced from a traceback. It makes no more
audio, but it holds its voice engine's state (and a speaking slot's bookkeeping) for good. Every stream the
app hands Gradio is watched, and one not resumed for ``idle_s`` is closed when the next starts.

``forget_failed_generators``: what Gradio keeps of a generator that fails after yielding.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
import weakref
from typing import Iterator, TypeVar

import gradio as gr

from oracle.limits import ABANDONED_STREAM_S
from oracle.web.gradio_adapter.wrapping import wrap_once

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


def forget_failed_generators(demo: gr.Blocks) -> None:
    """Drop what Gradio 6.17 keeps of a generator's last outputs when it fails after yielding.

    Gradio diffs each update of a generator against its previous one, kept by visit and ``id()`` of the
    iterator, and lets that record go only when the generator ends normally. One that raises (a failed
    question: its "Reply hazy" look, then ``gr.Error``) leaves it behind, and a later generator of the same
    visit that Python places at the same address inherits it: its updates are then diffed against another
    event's outputs (``IndexError`` in ``handle_streaming_diffs`` when that event had fewer; the page never
    hears its answer). The record goes as soon as its generator fails.
    """
    def forgetting_failures(process_api):
        async def process_api_forgetting_failures(*args, **kwargs):
            try:
                return await process_api(*args, **kwargs)
            except BaseException:
                iterator, session_hash = kwargs.get("iterator"), kwargs.get("session_hash")
                if iterator is not None and session_hash in demo.pending_diff_streams:
                    demo.pending_diff_streams[session_hash].pop(id(iterator), None)
                raise

        return process_api_forgetting_failures

    wrap_once(demo, "process_api", forgetting_failures)
