"""What Gradio 6.17.3's queue accepts: every request joining it is checked before Gradio keeps anything for it,
inputs it cannot read are refused in the request's words, no URL is taken for a recording, and an error a
request ends with always says something."""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Mapping

import gradio as gr

from oracle.web.gradio_adapter.wrapping import wrap_once

log = logging.getLogger(__name__)

# What the app says to one request, in its words: given the request's function (None when it names none the app
# has), the values it sent (raw; None when not read) and its HTTP headers (None when there are none).
Say = Callable[[Any, "list | None", "Mapping[str, str] | None"], str]


# The same, as the gr.Error to end the request with.
Refuse = Callable[[Any, "list | None", "Mapping[str, str] | None"], gr.Error]


def refuse_urls_as_audio(demo: gr.Blocks, refusal: str | Callable[[], Exception]) -> None:
    """Accept only recordings uploaded to this server, never a URL named in a request.

    Gradio downloads any public URL that a request names as a file (``{"path": "https://..."}``, or
    ``handle_file(url)`` in gradio_client), with no size limit: a stranger's string would become a URL the
    server reads. Every ``gr.Audio`` of ``demo`` refuses them instead: with ``refusal()``, raised while Gradio
    reads the request's inputs (``refuse_unreadable_inputs`` tells it in the request's words), or with a
    ``gr.Error`` saying ``refusal`` when it is text.
    """
    from gradio_client.utils import is_http_url_like

    def refusing_urls(move):
        async def uploads_only(url_or_file_path):
            if url_or_file_path is not None and is_http_url_like(str(url_or_file_path)):
                raise gr.Error(refusal, print_exception=False) if isinstance(refusal, str) else refusal()
            return await move(url_or_file_path)

        return uploads_only

    for block in demo.blocks.values():
        if isinstance(block, gr.Audio):
            wrap_once(block, "async_move_resource_to_block_cache", refusing_urls)


def guard_the_queue(demo: gr.Blocks, *, session_hash: re.Pattern, max_waiting_per_visit: int,
                    max_waiting_per_address: int, max_streams_per_address: int, busy_message: Say,
                    unknown_message: Say) -> None:
    """Every request joining ``demo``'s queue is checked before Gradio keeps anything for it (the messages are
    what ``busy_message`` and ``unknown_message`` say to it).

    Refused with 400 and ``unknown_message``: a session hash (a visit's id) not matching ``session_hash``,
    or a function index ``demo`` does not have (Gradio would make the visit's state, then fail with a 500).
    Refused as "busy" (503, what a full queue answers): one visit with ``max_waiting_per_visit`` requests
    already waiting, or one client address with ``max_waiting_per_address``, so that one client cannot
    fill the queue shared by everyone; and one client address with ``max_streams_per_address`` microphone
    streams open (running or waiting: an open stream holds its slot until it ends), so that one client
    cannot hold every listening slot.
    """
    queue = demo._queue

    def checking(push):
        async def checked_push(body, request, username):
            fn = demo.fns.get(body.fn_index) if isinstance(body.fn_index, int) else None
            data = body.data if isinstance(getattr(body, "data", None), list) else None
            headers = getattr(request, "headers", None)
            # /call/<api_name> (the REST API) has no visit: Gradio gives its request an id of its own.
            if body.session_hash is not None and not (isinstance(body.session_hash, str)
                                                      and session_hash.fullmatch(body.session_hash)):
                return False, unknown_message(None, None, headers), "error"
            if not _is_known_function(demo, body.session_hash, body.fn_index):
                return False, unknown_message(None, None, headers), "error"
            address = _client_address(request)
            waiting = [event for group in queue.event_queue_per_concurrency_id.values() for event in group.queue]
            by_visit = sum(event.session_hash == body.session_hash for event in waiting) if body.session_hash else 0
            by_address = sum(_client_address(event.request) == address for event in waiting)
            if by_visit >= max_waiting_per_visit or by_address >= max_waiting_per_address:
                log.info("refused a request: %d waiting for its visit, %d for its address", by_visit, by_address)
                return False, busy_message(fn, data, headers), "queue_full"
            if demo.fns[body.fn_index].connection == "stream" if body.fn_index in demo.fns else False:
                running = [event for events in queue.active_jobs if events for event in events]
                streams = sum(event.streaming and _client_address(event.request) == address
                              for event in waiting + running)
                if streams >= max_streams_per_address:
                    log.info("refused a microphone stream: %d open for its address", streams)
                    return False, busy_message(fn, data, headers), "queue_full"
            return await push(body, request, username)

        return checked_push

    wrap_once(queue, "push", checking)


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


def refuse_unreadable_inputs(demo: gr.Blocks, refuse: Callable[[Exception, Any, list], gr.Error]) -> None:
    """A request whose inputs Gradio cannot read (a number for a recording, a file outside the app, too few
    values, a refusal raised while reading them) fails with ``refuse(error, function, inputs)``, and no
    traceback in the log; Gradio would send ``{"error": null}`` and print one. A request that leaves out inputs
    that have a default (the optional ``language``, added after scripts were written) gets those defaults, as
    ``gradio_client`` sends them."""
    def reading_inputs_or_refusing(preprocess):
        async def readable_inputs_only(block_fn, inputs, state, explicit_call=False):
            missing = block_fn.inputs[len(inputs):] if isinstance(inputs, list) else []
            if missing and all(getattr(block, "value", None) is not None for block in missing):
                inputs = [*inputs, *(block.value for block in missing)]  # optional last inputs (a language)
            try:
                return await preprocess(block_fn, inputs, state, explicit_call)
            except gr.Error:
                raise
            except Exception as error:  # noqa: BLE001 - every shape of unreadable input is the same to a user
                log.warning("refused unreadable inputs for %s: %s", block_fn.name, type(error).__name__)
                raise refuse(error, block_fn, inputs if isinstance(inputs, list) else []) from None

        return readable_inputs_only

    wrap_once(demo, "preprocess_data", reading_inputs_or_refusing)


def name_every_error(message: str) -> None:
    """An error a request ends with always says something: Gradio (``show_error=False``) sends
    ``{"error": null}`` for any exception that is not a ``gr.Error``; this sends ``message`` instead (the
    exception's own text still never reaches a user)."""
    import gradio.queueing

    def naming(payload):
        def named(error, show_error):
            content = payload(error, show_error)
            if content.get("error") is None:
                content.update(error=message, visible=True, title="Error")
            return content

        return named

    wrap_once(gradio.queueing, "error_payload", naming)
