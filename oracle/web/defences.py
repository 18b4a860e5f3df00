"""What stands between strangers and the oracle: the front door (``oracle.web.middleware``), the queue's
own checks, and the launch settings that bound memory. ``app.py`` calls ``protect(demo)`` and launches
with ``server_settings(...)``; see the README's "Limits and behaviour"."""

from __future__ import annotations

import functools
import re

import gradio as gr
from starlette.middleware import Middleware

from oracle.limits import (MAX_STREAMS_PER_ADDRESS, MAX_VISITS, MAX_WAITING_CHUNKS, MAX_WAITING_PER_ADDRESS,
                           MAX_WAITING_PER_VISIT)
from oracle.errors import AudioByLink, Busy, OracleError, UnknownRequest, UnreadableRequest
from oracle.messages import say
from oracle.web.gradio_adapter.generators import forget_failed_generators
from oracle.web.gradio_adapter.microphone import take_every_chunk
from oracle.web.gradio_adapter.requests import (guard_the_queue, name_every_error, refuse_unreadable_inputs,
                                                refuse_urls_as_audio)
from oracle.web.gradio_adapter.voice import keep_streamed_values_whole
from oracle.web.housekeeping import housekeeping
from oracle.web.middleware import SESSION_HASH, Drain, FrontDoor
from oracle.web.served import served
from oracle.web.told import for_people, told_in

# The English of what these refusals say (each request is told them in its own language).
BUSY_MESSAGE = Busy().message()
UNKNOWN_REQUEST_MESSAGE = UnknownRequest().message()
UNREADABLE_INPUTS_MESSAGE = UnreadableRequest().message()
# Said when an error reaches Gradio that is none of the oracle's (a bug): nothing tells whose request it was,
# so it is English.
SOMETHING_WENT_WRONG_MESSAGE = say("something_went_wrong")


def protect(demo: gr.Blocks) -> None:
    """Everything the app changes in Gradio, installed once (installing it again changes nothing): the
    queue's checks on every request joining it, every microphone chunk taken in order, a message with every
    error it sends, no URL taken for a recording, no failed generator's record left for the next one, and a
    streamed voice's value left whole by later updates. Refusals are told in the language a request names
    (``served(demo).language_inputs``)."""
    refuse_urls_as_audio(demo, AudioByLink)
    forget_failed_generators(demo)
    keep_streamed_values_whole(demo)
    guard_the_queue(demo, session_hash=SESSION_HASH, max_waiting_per_visit=MAX_WAITING_PER_VISIT,
                    max_waiting_per_address=MAX_WAITING_PER_ADDRESS, max_streams_per_address=MAX_STREAMS_PER_ADDRESS,
                    busy_message=lambda fn, values, headers: Busy().message(_told(demo, fn, values, headers)),
                    unknown_message=lambda fn, values, headers: UnknownRequest().message(
                        _told(demo, fn, values, headers)))
    take_every_chunk(demo, MAX_WAITING_CHUNKS)
    refuse_unreadable_inputs(demo, lambda error, fn, values: for_people(
        error if isinstance(error, OracleError) else UnreadableRequest(), _told(demo, fn, values, None)))
    name_every_error(SOMETHING_WENT_WRONG_MESSAGE)


def _told(demo: gr.Blocks, fn, values: list | None, headers) -> str | None:
    return told_in(getattr(fn, "inputs", ()), values, headers, served(demo).language_inputs)


def server_settings(max_file_size: str, drain: Drain) -> dict:
    """``launch()`` arguments: the front door in front of Gradio, the housekeeping lifespan (which also
    drains on ``drain``), and the number of visits kept."""
    return {"state_session_capacity": MAX_VISITS,
            "app_kwargs": {"lifespan": functools.partial(housekeeping, drain=drain),
                           "middleware": [Middleware(FrontDoor, max_upload_bytes=_bytes(max_file_size), drain=drain)]}}


def _bytes(size: str) -> int:
    """``"10mb"`` -> 10485760, as Gradio reads ``max_file_size``."""
    number, unit = re.fullmatch(r"\s*(\d+)\s*([kmg]?b)\s*", size.lower()).groups()
    return int(number) * {"b": 1, "kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3}[unit]

