"""The server's defences that reach into Gradio 6.17.3 (the queue, sessions, running generators)."""

from __future__ import annotations

import datetime
import logging
import re
from pathlib import Path

import gradio as gr

log = logging.getLogger("oracle.app")


# ---- the server's defences (issue 10): the queue, visits, draining, the cache ----

def guard_the_queue(demo: gr.Blocks, *, session_hash: re.Pattern, max_waiting_per_visit: int,
                    max_waiting_per_address: int, busy_message: str, unknown_message: str) -> None:
    """Every request joining ``demo``'s queue is checked before Gradio keeps anything for it.

    Refused with 400 and ``unknown_message``: a session hash (a visit's id) not matching ``session_hash``,
    or a function index ``demo`` does not have (Gradio would make the visit's state, then fail with a 500).
    Refused as "busy" (503, what a full queue answers): one visit with ``max_waiting_per_visit`` requests
    already waiting, or one client address with ``max_waiting_per_address``, so that one client cannot
    fill the queue shared by everyone.
    """
    queue = demo._queue
    push = queue.push

    async def checked_push(body, request, username):
        # /call/<api_name> (the REST API) has no visit: Gradio gives its request an id of its own.
        if body.session_hash is not None and not (isinstance(body.session_hash, str)
                                                  and session_hash.fullmatch(body.session_hash)):
            return False, unknown_message, "error"
        if not _is_known_function(demo, body.session_hash, body.fn_index):
            return False, unknown_message, "error"
        address = _client_address(request)
        waiting = [event for group in queue.event_queue_per_concurrency_id.values() for event in group.queue]
        by_visit = sum(event.session_hash == body.session_hash for event in waiting) if body.session_hash else 0
        by_address = sum(_client_address(event.request) == address for event in waiting)
        if by_visit >= max_waiting_per_visit or by_address >= max_waiting_per_address:
            log.info("refused a request: %d waiting for its visit, %d for its address", by_visit, by_address)
            return False, busy_message, "queue_full"
        return await push(body, request, username)

    queue.push = checked_push


def _is_known_function(demo: gr.Blocks, session_hash: str, fn_index) -> bool:
    if not isinstance(fn_index, int) or isinstance(fn_index, bool):
        return False
    if fn_index in demo.fns:
        return True
    # Events made by gr.render for this visit live in its own state (only if the visit exists already).
    state = demo.state_holder.session_data.get(session_hash)
    return state is not None and fn_index in state.blocks_config.fns


def _client_address(request) -> str | None:
    client = getattr(request, "client", None)
    return client.host if client else None


def refuse_unreadable_inputs(demo: gr.Blocks, message: str) -> None:
    """A request whose inputs Gradio cannot read (a number for a recording, a file outside the app, too few
    values) fails with ``message`` as a ``gr.Error``, and no traceback in the log; Gradio would send
    ``{"error": null}`` and print one."""
    preprocess = demo.preprocess_data

    async def readable_inputs_only(block_fn, inputs, state, explicit_call=False):
        try:
            return await preprocess(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except Exception as error:  # noqa: BLE001 - every shape of unreadable input is the same to a user
            log.warning("refused unreadable inputs for %s: %s", block_fn.name, type(error).__name__)
            raise gr.Error(message, print_exception=False) from None

    demo.preprocess_data = readable_inputs_only


def name_every_error(message: str) -> None:
    """An error a request ends with always says something: Gradio (``show_error=False``) sends
    ``{"error": null}`` for any exception that is not a ``gr.Error``; this sends ``message`` instead (the
    exception's own text still never reaches a user)."""
    import gradio.queueing

    payload = gradio.queueing.error_payload
    if getattr(payload, "names_every_error", False):
        return

    def named(error, show_error):
        content = payload(error, show_error)
        if content.get("error") is None:
            content.update(error=message, visible=True, title="Error")
        return content

    named.names_every_error = True
    gradio.queueing.error_payload = named


def forget_idle_visits(demo: gr.Blocks, max_idle_s: float) -> int:
    """Forget the state (history, rendered components) of visits idle for longer than ``max_idle_s``
    and not waiting or running; how many. Gradio keeps up to ``state_session_capacity`` visits, idle or
    not, about 100 kB each. Must run on the server's event loop."""
    holder = demo.state_holder
    queue = demo._queue
    busy = {event.session_hash for group in queue.event_queue_per_concurrency_id.values() for event in group.queue}
    busy |= {event.session_hash for events in queue.active_jobs if events for event in events}
    oldest = datetime.datetime.now() - datetime.timedelta(seconds=max_idle_s)
    forgotten = 0
    with holder.lock:
        for session_hash in list(holder.session_data):
            last_used = holder.time_last_used.get(session_hash)
            if session_hash not in busy and (last_used is None or last_used < oldest):
                del holder.session_data[session_hash]
                holder.time_last_used.pop(session_hash, None)
                forgotten += 1
    return forgotten


def visits_in_memory(demo: gr.Blocks) -> int:
    return len(demo.state_holder.session_data)


def files_kept_in_cache(demo: gr.Blocks) -> set[Path]:
    """Files Gradio keeps in its cache for the life of the app: the examples (a ``gr.Dataset`` keeps
    them on its own copies of the input components)."""
    kept = set()
    for block in demo.blocks.values():
        for component in [block, *getattr(block, "_components", ())]:
            kept.update(Path(path) for path in getattr(component, "keep_in_cache", ()))
    return kept


def keep_for_good(demo: gr.Blocks, paths: set[Path]) -> None:
    """Have Gradio's own cache sweep (``delete_cache``) leave ``paths`` alone for the life of the app, as
    it does the files a component marks ``keep_in_cache``. Gradio does not mark the examples it copies
    into the cache: it deletes them once older than the cache age, and clicking an example fails after."""
    for block in demo.blocks.values():
        if isinstance(getattr(block, "keep_in_cache", None), set):
            block.keep_in_cache.update(str(path) for path in paths)
            block.keep_in_cache.update(str(path.resolve()) for path in paths)
            return


def cache_dir() -> Path:
    """Gradio's file cache: uploads, the examples, files the app saves (``GRADIO_TEMP_DIR``)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


def work_in_progress(demo: gr.Blocks) -> tuple[int, int]:
    """(waiting, running) requests in the queue."""
    queue = demo._queue
    waiting = sum(len(group.queue) for group in queue.event_queue_per_concurrency_id.values())
    running = sum(len(events) for events in queue.active_jobs if events)
    return waiting, running


async def refuse_waiting_requests(demo: gr.Blocks, message: str) -> int:
    """Every request still waiting in the queue ends now with ``message`` as its error; how many."""
    from gradio.server_messages import ProcessCompletedMessage

    queue = demo._queue
    ended = 0
    async with queue.delete_lock:
        for group in queue.event_queue_per_concurrency_id.values():
            for event in list(group.queue):
                group.queue.remove(event)
                queue.send_message(event, ProcessCompletedMessage(
                    output={"error": message, "visible": True, "title": "Error"}, success=False, title="Error"))
                ended += 1
    return ended


async def end_running_streams(demo: gr.Blocks, message: str) -> int:
    """Every generator still running stops at its next step, closed (its engine stops), and its request
    ends with ``message`` as its error (Gradio then ends its HLS streams); how many.

    Gradio steps a sync generator through a ``SyncToAsyncIterator`` kept for the event (and put back
    after every step, so it cannot be swapped): the generator inside it is."""
    app = demo.server_app
    if app is None:
        return 0
    ended = 0
    async with app.lock:
        for iterator in list(app.iterators.values()):
            inner = getattr(iterator, "iterator", None)
            if inner is not None and not isinstance(inner, _EndWith):
                iterator.iterator = _EndWith(inner, message)
                ended += 1
    return ended


class _EndWith:
    """A generator's next step: close the real one (in Gradio's worker thread, between steps, so never
    while it runs) and raise a friendly error."""

    def __init__(self, generator, message: str) -> None:
        self.generator, self.message = generator, message

    def __iter__(self):
        return self

    def __next__(self):
        self.generator.close()
        raise gr.Error(self.message, print_exception=False)

    def close(self):
        self.generator.close()
