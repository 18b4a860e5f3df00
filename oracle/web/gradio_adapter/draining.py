"""Ending what waits in Gradio 6.17.3's queue and what it runs, each with a message of the app's, when the
server closes (``oracle.web.housekeeping.drain_when_asked``)."""

from __future__ import annotations

import gradio as gr

from oracle.web.gradio_adapter.requests import Refuse


def work_in_progress(demo: gr.Blocks) -> tuple[int, int]:
    """(waiting, running) requests in the queue."""
    queue = demo._queue
    waiting = sum(len(group.queue) for group in queue.event_queue_per_concurrency_id.values())
    running = sum(len(events) for events in queue.active_jobs if events)
    return waiting, running


def _refusal_for(event, refuse: Refuse) -> gr.Error:
    """What ``refuse`` says to the request of a queued ``event``."""
    data = event.data.data if event.data is not None and isinstance(event.data.data, list) else None
    return refuse(event.fn, data, getattr(event.request, "headers", None))


async def refuse_waiting_requests(demo: gr.Blocks, refuse: Refuse) -> int:
    """Every request still waiting in the queue ends now with what ``refuse`` says to it as its error; how
    many."""
    from gradio.server_messages import ProcessCompletedMessage

    queue = demo._queue
    ended = 0
    async with queue.delete_lock:
        for group in queue.event_queue_per_concurrency_id.values():
            for event in list(group.queue):
                group.queue.remove(event)
                error = _refusal_for(event, refuse)
                queue.send_message(event, ProcessCompletedMessage(
                    output={"error": error.message, "visible": True, "title": error.title}, success=False,
                    title=error.title))
                ended += 1
    return ended


async def end_running_streams(demo: gr.Blocks, refuse: Refuse) -> int:
    """Every generator still running stops at its next step, closed (its engine stops), and its request
    ends with what ``refuse`` says to it as its error (Gradio then ends its HLS streams); how many.

    Gradio steps a sync generator through a ``SyncToAsyncIterator`` kept for the event (and put back
    after every step, so it cannot be swapped): the generator inside it is."""
    app = demo.server_app
    if app is None:
        return 0
    ended = 0
    events = demo._queue.event_ids_to_events
    async with app.lock:
        for event_id, iterator in list(app.iterators.items()):
            inner = getattr(iterator, "iterator", None)
            if inner is not None and not isinstance(inner, _EndWith):
                event = events.get(event_id)
                error = _refusal_for(event, refuse) if event is not None else refuse(None, None, None)
                iterator.iterator = _EndWith(inner, error)
                ended += 1
    return ended


class _EndWith:
    """A generator's next step: close the real one (in Gradio's worker thread, between steps, so never
    while it runs) and raise a friendly error."""

    def __init__(self, generator, error: gr.Error) -> None:
        self.generator, self.error = generator, error

    def __iter__(self):
        return self

    def __next__(self):
        self.generator.close()
        raise self.error

    def close(self):
        self.generator.close()
