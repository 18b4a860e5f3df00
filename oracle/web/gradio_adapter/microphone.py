"""Microphone streams (a streaming ``gr.Audio`` input) in Gradio 6.17.3's queue: every chunk taken in order,
Stop carried out once the chunks sent before it are taken, and streams whose browser went silent ended."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque

import gradio as gr

from oracle.web.gradio_adapter.wrapping import wrap_once

log = logging.getLogger(__name__)


class SilentStreams:
    """Ends microphone streams whose browser went silent: no chunk for ``idle_s`` (the tab closed, the network
    dropped). Gradio 6.17 keeps such a stream, and its slot in the queue, until its ``time_limit``: a crowd
    that leaves would hold every slot for that long. Each stream's last chunk is known by the identity of the
    body Gradio keeps for it (every chunk replaces it). ``end(demo)`` must run on the server's event loop."""

    def __init__(self, idle_s: float):
        self.idle_s = idle_s
        self._seen: dict[str, tuple[int, float]] = {}  # event id -> (id of its last body, when first seen)

    def end(self, demo: gr.Blocks) -> int:
        now, ended, running = time.monotonic(), 0, set()
        for events in list(demo._queue.active_jobs):
            for event in events or ():
                if not is_open_stream(event):
                    continue
                running.add(event._id)
                body, since = self._seen.get(event._id, (None, now))
                if body != id(event.data) or has_unread_chunks(event):
                    self._seen[event._id] = (id(event.data), now)
                elif now - since > self.idle_s:
                    close_microphone_stream(event)
                    ended += 1
        self._seen = {event_id: seen for event_id, seen in self._seen.items() if event_id in running}
        return ended


def microphone_stream_of(request: gr.Request) -> gr.Request:
    """Which microphone stream a turn of the streaming event belongs to, as a key to keep weakly (it lives as
    long as its stream runs). Gradio 6.17.3 builds one ``gr.Request`` per run of an event
    (``Queue.process_events`` → ``route_utils.compile_gr_request``) and hands that same object to every turn
    of a stream, its last included; each Record is a new run. So the object itself names the stream."""
    return request


def end_microphone_streams(demo: gr.Blocks) -> int:
    """End every open microphone stream (a streaming-input event) as its browser's close request would; how
    many. Gradio keeps one open until its ``time_limit`` otherwise. Must run on the server's event loop."""
    ended = 0
    for events in list(demo._queue.active_jobs):
        for event in events or ():
            if is_open_stream(event):
                close_microphone_stream(event)
                ended += 1
    return ended


def is_open_microphone_stream(demo: gr.Blocks, event_id: str) -> bool:
    """``event_id`` names a microphone stream this server is running (Gradio's ``/stream/{event_id}`` routes
    answer any other id with a 500 and a traceback)."""
    event = demo._queue.event_ids_to_events.get(event_id)
    return event is not None and event.streaming


class ChunksInOrder(asyncio.Event):
    """A microphone stream's ``signal`` under which no chunk is lost, and none is heard twice.

    Gradio 6.17's ``/stream/{event_id}`` route sets ``event.data`` to the new chunk, then ``signal.set()``;
    the stream's loop wakes, clears the signal, reads ``event.data``, runs the function, and waits again.
    A chunk arriving before the last one was read replaces it: a browser sends a chunk every
    ``stream_every`` seconds without waiting for answers, so on a busy machine, where they bunch up, a
    question lost audio in its middle (measured in Chromium: 0.5-0.75 s of 8 s with the CPU busy). Here such
    a chunk waits in line (at most ``max_waiting``: past that the oldest waiting is dropped) and is handed
    over when the loop waits again.

    Closing (``close_microphone_stream``) is carried out once every chunk received is taken, and hands the
    loop a chunk-less body for its last turn, as does any wake-up that brings no chunk (Gradio's, when the
    page is closed): Gradio wakes the loop with the last chunk again, which heard a word twice at Stop."""

    def __init__(self, event, max_waiting: int):
        super().__init__()
        self._event = event
        self._max_waiting = max_waiting
        self._current = event.data  # the last chunk handed to the loop
        self._busy = True  # the loop takes the first chunk without waiting
        self._waiting: deque = deque()
        self._closing = False

    @property
    def has_unread(self) -> bool:
        return self.is_set() or bool(self._waiting)

    @property
    def closing(self) -> bool:
        return self._closing

    def set(self) -> None:
        body = self._event.data
        if body is self._current:  # a wake-up that brings no chunk: the visit's page was closed
            self._hand_over(self._chunkless())
            return
        if self._busy or self.is_set():  # the loop has not read the last chunk yet: this one waits its turn
            self._event.data = self._current
            if len(self._waiting) == self._max_waiting:
                self._waiting.popleft()
                log.warning("a microphone stream is %d chunks behind: its oldest waiting chunk was dropped",
                            self._max_waiting)
            self._waiting.append(body)
            return
        self._current = body
        super().set()

    def clear(self) -> None:
        super().clear()
        self._busy = True  # the loop woke: it reads event.data next

    async def wait(self):
        self._busy = False
        if self._waiting:
            self._hand_over(self._waiting.popleft())
        elif self._closing and not self._event.closed:
            self._finish()
        return await super().wait()

    def close(self) -> None:
        self._closing = True
        if not self._busy and not self._waiting and not self.is_set():
            self._finish()

    def _hand_over(self, body) -> None:
        self._current = self._event.data = body
        super().set()

    def _finish(self) -> None:

        self._event.run_time, self._event.closed = math.inf, True
        self._hand_over(self._chunkless())

    def _chunkless(self):
        """The last body with no chunk in it, for the stream's last turn."""
        body = self._current
        return body.model_copy(update={"data": [None, *body.data[1:]]}) if body is not None and body.data else body


def take_every_chunk(demo: gr.Blocks, max_waiting: int) -> None:
    """Every microphone stream ``demo``'s queue takes gets ``ChunksInOrder`` as its signal (installed as the
    stream joins the queue, before its loop first waits on it)."""
    queue = demo._queue

    def taking_every_chunk(push):
        async def push_taking_every_chunk(body, request, username):
            taken, event_id, *rest = await push(body, request, username)
            event = queue.event_ids_to_events.get(event_id) if taken else None
            if event is not None and event.streaming and not isinstance(event.signal, ChunksInOrder):
                event.signal = ChunksInOrder(event, max_waiting)
            return (taken, event_id, *rest)

        return push_taking_every_chunk

    wrap_once(queue, "push", taking_every_chunk)


def has_unread_chunks(event) -> bool:
    signal = event.signal
    return signal.has_unread if isinstance(signal, ChunksInOrder) else signal.is_set()


def is_open_stream(event) -> bool:
    """``event`` is a microphone stream nothing has closed yet."""
    closing = isinstance(event.signal, ChunksInOrder) and event.signal.closing
    return event.streaming and not event.closed and not closing


def close_microphone_stream(event) -> None:
    """End a microphone stream as its browser's Stop does, once the chunks it sent are taken."""
    if isinstance(event.signal, ChunksInOrder):
        event.signal.close()
    else:
        event.run_time, event.closed = math.inf, True
        event.signal.set()


def close_microphone_stream_by_id(demo: gr.Blocks, event_id: str) -> None:
    """Stop for the stream ``event_id`` (Gradio's ``/stream/{event_id}/close``), if it is one."""
    event = demo._queue.event_ids_to_events.get(event_id)
    if event is not None and event.streaming:
        close_microphone_stream(event)
