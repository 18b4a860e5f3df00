"""Every place the app reaches past Gradio's public API, in one module.

Gradio 6.17.3 is pinned in requirements.txt, and everything here was written against it: private
attributes, internal helpers, and the shapes of values Gradio passes between its own layers. On any
other version ``check_gradio_version()`` logs one warning at start-up, and
``tests/test_gradio_internals.py`` fails, naming each internal that moved: read this module against the
new Gradio before raising the pin.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from oracle.audio import wav_bytes

TESTED_GRADIO_VERSION = "6.17.3"

log = logging.getLogger(__name__)


def check_gradio_version() -> bool:
    """True on the Gradio this module was written for; otherwise one warning in the log."""
    if gr.__version__ == TESTED_GRADIO_VERSION:
        return True
    log.warning("Gradio %s is installed; oracle.web.gradio_internals was written for %s: run "
                "tests/test_gradio_internals.py before trusting this server", gr.__version__, TESTED_GRADIO_VERSION)
    return False


# ---- the look: theme and CSS come with every launch() ----

def dark_only(theme: gr.themes.Base) -> gr.themes.Base:
    """The theme's dark values, used in light mode too. Gradio has no "always dark" switch, and a theme keeps
    each light value in an attribute named like its ``*_dark`` twin."""
    for name, value in list(vars(theme).items()):
        if name.endswith("_dark") and not name.startswith("_") and value is not None:
            setattr(theme, name[:-5], value)
    return theme


class BlocksWithLook(gr.Blocks):
    """``gr.Blocks`` that brings its own theme and CSS (``look``: ``launch()`` arguments) to every
    ``launch()``: Gradio 6 takes them there, and this app is launched by ``main()``, the tests and the Space."""

    def __init__(self, look: dict, **kwargs):
        super().__init__(**kwargs)
        self.look = look

    def launch(self, *args, **kwargs):
        for name, value in self.look.items():
            kwargs.setdefault(name, value)
        return super().launch(*args, **kwargs)


# ---- components ----

def examples_loaded(examples: gr.Examples):
    """The event an ``gr.Examples`` fires once a clicked example is in its input components, so that
    clicking an example can ask at once (Gradio has no public name for it)."""
    return examples.load_input_event


def audio_config(component: gr.Audio) -> dict:
    """A subclass of ``gr.Audio`` configured as ``gr.Audio`` itself: Gradio builds a component's config from
    its class's ``__init__`` signature, which a subclass taking ``**kwargs`` would leave nearly empty (no
    label, autoplay or waveform options: the browser's player then fails to start)."""
    return gr.Audio.get_config(component, gr.Audio)


def aac_stream_segment(aac: bytes, duration_s: float, output_id: str) -> tuple[dict, dict]:
    """What a streaming output's ``stream_output`` returns for one AAC segment: the segment, and the
    playlist file the browser follows (as ``gr.Audio`` does)."""
    playlist = {"path": output_id, "is_stream": True, "orig_name": "audio-stream.mp3",
                "meta": {"_type": "gradio.FileData"}}
    return {"data": aac, "duration": duration_s, "extension": ".aac"}, playlist


def save_wav_to_cache(samples: np.ndarray, sample_rate: int, name: str) -> str:
    """Int16 samples as a WAV file in Gradio's upload cache (which ``delete_cache`` sweeps); its path.
    ``name`` must not come from a user."""
    from gradio.processing_utils import save_bytes_to_cache
    from gradio.utils import get_upload_folder

    return save_bytes_to_cache(wav_bytes(samples, sample_rate), name, get_upload_folder())


def refuse_urls_as_audio(demo: gr.Blocks, message: str) -> None:
    """Accept only recordings uploaded to this server, never a URL named in a request.

    Gradio downloads any public URL that a request names as a file (``{"path": "https://..."}``, or
    ``handle_file(url)`` in gradio_client), with no size limit: a stranger's string would become a URL the
    server reads. Every ``gr.Audio`` of ``demo`` refuses them with ``message`` instead.
    """
    from gradio_client.utils import is_http_url_like

    for block in demo.blocks.values():
        if not isinstance(block, gr.Audio):
            continue
        move = block.async_move_resource_to_block_cache

        async def uploads_only(url_or_file_path, _move=move):
            if url_or_file_path is not None and is_http_url_like(str(url_or_file_path)):
                raise gr.Error(message, print_exception=False)
            return await _move(url_or_file_path)

        block.async_move_resource_to_block_cache = uploads_only


# ---- what Gradio keeps in memory for every request ----

def forget_finished_requests(demo: gr.Blocks, first_seen: dict, max_age: float, longest_stream_s: float) -> int:
    """Drop what Gradio 6.17 keeps in memory for every request for the life of the server.

    Gradio's ``delete_cache`` sweeps files only; the segments of every streamed answer (held in memory to
    serve the HLS playlist) and the queue's record of every event are never let go: about 35 kB per
    consultation, measured. This drops them once older than ``max_age``: streams that ended (or that are
    older than any answer may speak, ``longest_stream_s``) and records of events no longer queued or
    running. Returns how many entries were dropped. Must run on the server's event loop.
    """
    now, wall_now, dropped = time.monotonic(), time.time(), 0
    for session_hash in list(demo.pending_streams):
        runs = demo.pending_streams[session_hash]
        for run in list(runs):
            age = now - first_seen.setdefault((session_hash, run), now)
            ended = all(getattr(stream, "ended", True) for stream in runs[run].values())
            if age > max_age and (ended or age > max_age + 2 * longest_stream_s):
                del runs[run]
                first_seen.pop((session_hash, run), None)
                dropped += 1
        if not runs:
            del demo.pending_streams[session_hash]
    queue = demo._queue
    busy = {event._id for group in queue.event_queue_per_concurrency_id.values() for event in group.queue}
    busy |= {event._id for events in queue.active_jobs if events for event in events}
    resettable = getattr(demo.server_app, "iterators_to_reset", set()) if demo.server_app else set()
    for event_id, record in list(queue.event_analytics.items()):
        if event_id not in busy and wall_now - record.get("time", wall_now) > max_age:
            del queue.event_analytics[event_id]
            queue.event_ids_to_events.pop(event_id, None)
            resettable.discard(event_id)
            dropped += 1
    queue.event_count_at_last_cache = min(queue.event_count_at_last_cache, len(queue.event_analytics))
    return dropped


def streams_in_memory(demo: gr.Blocks) -> int:
    """How many streamed answers Gradio holds in memory now."""
    return sum(len(runs) for runs in demo.pending_streams.values())


def requests_in_memory(demo: gr.Blocks) -> int:
    """How many requests the queue still keeps a record of."""
    return len(demo._queue.event_analytics) + len(demo._queue.event_ids_to_events)


def uploaded_files(demo: gr.Blocks) -> set[Path]:
    """Every file uploaded to this server so far (as Gradio tracks them)."""
    return {Path(path) for path in demo.upload_file_set}


# ---- what the queue enforces ----

@dataclass(frozen=True)
class EventLimits:
    """One event of a ``gr.Blocks``, as its queue runs it."""

    name: str  # the Python function's name
    api_name: str | None
    concurrency_id: str | None
    concurrency_limit: int | None
    queued: bool
    runs_python: bool


def event_limits(demo: gr.Blocks) -> list[EventLimits]:
    return [EventLimits(fn.name, fn.api_name or None, fn.concurrency_id, fn.concurrency_limit, bool(fn.queue),
                        fn.fn is not None)
            for fn in demo.fns.values()]


def queue_max_size(demo: gr.Blocks) -> int | None:
    """How many requests may wait in the queue, as it enforces it."""
    return demo._queue.max_size
