"""What Gradio 6.17.3 keeps for every request, visit and file, and the sweeps that let it go (run by
``oracle.web.housekeeping``)."""

from __future__ import annotations

import datetime
import time
import weakref
from pathlib import Path

import gradio as gr
import numpy as np

from oracle.audio import wav_bytes


def blocks_of(server_app) -> gr.Blocks:
    """The ``gr.Blocks`` a running Gradio server (its FastAPI app, as a lifespan or middleware sees it) serves."""
    return server_app.get_blocks()


def cache_sweep_of(demo: gr.Blocks) -> tuple[int, int] | None:
    """The ``delete_cache`` ``demo`` was made with: (sweep every, delete files older than) in seconds."""
    return demo.delete_cache


def save_wav_to_cache(samples: np.ndarray, sample_rate: int, name: str) -> str:
    """Int16 samples as a WAV file in Gradio's upload cache (which ``delete_cache`` sweeps); its path.
    ``name`` must not come from a user."""
    from gradio.processing_utils import save_bytes_to_cache
    from gradio.utils import get_upload_folder

    return save_bytes_to_cache(wav_bytes(samples, sample_rate), name, get_upload_folder())


class FirstSeen:
    """When the sweep first saw each stream, and each run that has no stream yet. Streams are remembered by the
    object, never by Gradio's key: that key is ``id()`` of the generator, which Python reuses, and a new
    answer's stream at a reused key must not inherit the age of the ended one it replaced."""

    def __init__(self) -> None:
        self.streams: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.empty_runs: dict[tuple[str, int], float] = {}

    def age(self, session_hash: str, run: int, streams: list, now: float) -> float:
        if not streams:
            return now - self.empty_runs.setdefault((session_hash, run), now)
        self.empty_runs.pop((session_hash, run), None)
        return now - min(self.streams.setdefault(stream, now) for stream in streams)


def forget_finished_requests(demo: gr.Blocks, first_seen: FirstSeen, max_age: float, longest_stream_s: float) -> int:
    """Drop what Gradio 6.17 keeps in memory for every request for the life of the server.

    Gradio's ``delete_cache`` sweeps files only; the segments of every streamed answer (held in memory to
    serve the HLS playlist) and the queue's record of every event are never let go: about 35 kB per
    consultation, measured. This drops them once older than ``max_age``: streams that ended (or that are
    older than any answer may speak, ``longest_stream_s``) and records of events no longer queued or
    running. A run with no stream yet is not ended: Gradio makes it before encoding the first chunk (an
    ``await``), and puts the stream in it after; dropping it then would leave the new answer unplayable
    (its playlist answering 404). Returns how many entries were dropped. Must run on the server's event loop.
    """
    now, wall_now, dropped = time.monotonic(), time.time(), 0
    for session_hash in list(demo.pending_streams):
        runs = demo.pending_streams[session_hash]
        for run in list(runs):
            streams = list(runs[run].values())
            age = first_seen.age(session_hash, run, streams, now)
            ended = bool(streams) and all(getattr(stream, "ended", True) for stream in streams)
            if age > max_age and (ended or age > max_age + 2 * longest_stream_s):
                del runs[run]
                first_seen.empty_runs.pop((session_hash, run), None)
                dropped += 1
        if not runs:
            del demo.pending_streams[session_hash]
    queue = demo._queue
    busy = {event._id for group in queue.event_queue_per_concurrency_id.values() for event in group.queue}
    busy |= {event._id for events in queue.active_jobs if events for event in events}
    server_app = getattr(demo, "server_app", None)  # None until launched
    resettable = getattr(server_app, "iterators_to_reset", set()) if server_app else set()
    for event_id, record in list(queue.event_analytics.items()):
        if event_id not in busy and wall_now - record.get("time", wall_now) > max_age:
            del queue.event_analytics[event_id]
            queue.event_ids_to_events.pop(event_id, None)
            resettable.discard(event_id)
            dropped += 1
    queue.event_count_at_last_cache = min(queue.event_count_at_last_cache, len(queue.event_analytics))
    return dropped


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
