"""Keeping a long-running server healthy: sweep every file the app writes and Gradio's in-memory
leftovers, never let a request make the server fetch a URL, and drain on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path

import gradio as gr

from oracle.pipeline import SPEAK_TIME_LIMIT_S
from oracle.web.middleware import DRAINING_MESSAGE, Drain
from oracle.web.server_internals import (cache_dir, end_running_streams, files_kept_in_cache, forget_idle_visits, keep_for_good,
                                         refuse_waiting_requests, work_in_progress)

# Gradio's cache (uploads, the examples, whole-answer WAVs of /consult and of the history, combined
# stream files) is swept every CACHE_SWEEP_S of files older than CACHE_MAX_AGE_S (a history download
# lasts that long); ORACLE_CACHE_MAX_AGE overrides the age. Visits idle that long are forgotten too.
CACHE_SWEEP_S = 60
CACHE_MAX_AGE_S = 900
# On SIGTERM: streams being spoken end at their next chunk; other requests running (hearing, answering:
# a second or two) get DRAIN_GRACE_S to finish; players get DRAIN_LINGER_S to fetch the end of their
# playlist; the process exits within DRAIN_EXIT_S.
DRAIN_GRACE_S = 4.0
DRAIN_LINGER_S = 2.0
DRAIN_EXIT_S = 9.0

log = logging.getLogger("oracle.app")
# Files put in the cache since this moment and before the server starts are the app's own (the
# examples, copied there while the page is built): kept for the life of the server.
LOADED_AT = time.time()


def cache_sweep_settings(max_age: str | None = None) -> tuple[int, int]:
    """(sweep every, delete files older than) in seconds, from ``ORACLE_CACHE_MAX_AGE`` or the default."""
    raw = (max_age if max_age is not None else os.environ.get("ORACLE_CACHE_MAX_AGE", "")).strip()
    age = int(raw) if raw.isdigit() and int(raw) > 0 else CACHE_MAX_AGE_S
    return min(CACHE_SWEEP_S, age), age


def forget_finished_requests(demo: gr.Blocks, first_seen: dict, max_age: float) -> int:
    """Drop what Gradio 6.17 keeps in memory for every request for the life of the server.

    Gradio's ``delete_cache`` sweeps files only; the segments of every streamed answer (held in
    memory to serve the HLS playlist) and the queue's record of every event are never let go: about
    35 kB per consultation, measured. This drops them once older than ``max_age``: streams that
    ended (or that are older than any answer may speak) and records of events no longer queued or
    running. Returns how many entries were dropped. Must run on the server's event loop.
    """
    now, wall_now, dropped = time.monotonic(), time.time(), 0
    for session_hash in list(demo.pending_streams):
        runs = demo.pending_streams[session_hash]
        for run in list(runs):
            age = now - first_seen.setdefault((session_hash, run), now)
            ended = all(getattr(stream, "ended", True) for stream in runs[run].values())
            if age > max_age and (ended or age > max_age + 2 * SPEAK_TIME_LIMIT_S):
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


def sweep_old_files(directory: Path, max_age: float, keep: set[Path] = frozenset()) -> int:
    """Delete every file under ``directory`` last written more than ``max_age`` seconds ago (except
    ``keep``), then the folders left empty; how many files. Gradio's own ``delete_cache`` deletes only the
    files it made itself in this run: not the files the app saves (history WAVs), not those of a run that
    was killed. Other apps may share Gradio's default cache folder: only old files go."""
    oldest = time.time() - max_age
    deleted = 0
    emptied: set[Path] = set()  # deleting a file makes its folder look young
    for path in sorted(directory.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        try:
            is_folder = path.is_dir() and not path.is_symlink()
            if path.lstat().st_mtime >= oldest and not (is_folder and path in emptied):
                continue
            if is_folder:
                path.rmdir()  # only if empty
            elif path not in keep:
                path.unlink()
                deleted += 1
            else:
                continue
            emptied.add(path.parent)
        except OSError:  # in use, gone already, not empty: next time
            continue
    return deleted


async def drain_when_asked(demo: gr.Blocks, drain: Drain) -> None:
    """On the server's event loop: once ``drain`` begins (SIGTERM; the front door refuses new work from
    then on), end what waits and the streams being spoken, each with a friendly last message, give the
    rest DRAIN_GRACE_S to finish, and keep serving the playlists DRAIN_LINGER_S more so that players
    hear the end of every stream."""
    await drain.wait_started()
    waiting = await refuse_waiting_requests(demo, DRAINING_MESSAGE)
    streams = await end_running_streams(demo, DRAINING_MESSAGE)
    deadline = time.monotonic() + DRAIN_GRACE_S
    while any(work_in_progress(demo)) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        waiting += await refuse_waiting_requests(demo, DRAINING_MESSAGE)
    log.info("drained: %d waiting requests refused, %d streams ended early", waiting, streams)
    await asyncio.sleep(DRAIN_LINGER_S)
    drain.finish()


def sweep_everything(demo: gr.Blocks, directory: Path, own_files: set[Path], first_seen: dict,
                     max_age: float) -> None:
    files = sweep_old_files(directory, max_age, own_files | files_kept_in_cache(demo))
    requests = forget_finished_requests(demo, first_seen, max_age)
    visits = forget_idle_visits(demo, max_age)
    if files or requests or visits:
        log.info("housekeeping: deleted %d old files, forgot %d finished requests and %d idle visits",
                 files, requests, visits)


@contextlib.asynccontextmanager
async def housekeeping(server_app, drain: Drain | None = None):
    """Server lifespan: sweep old files (those of earlier runs at once), Gradio's in-memory leftovers and
    idle visits every CACHE_SWEEP_S; drain when ``drain`` begins."""
    demo = server_app.get_blocks()
    every, max_age = demo.delete_cache or cache_sweep_settings()
    directory = cache_dir()
    own_files = {p for p in directory.rglob("*") if p.is_file() and p.lstat().st_ctime >= LOADED_AT}
    keep_for_good(demo, own_files)
    first_seen: dict = {}

    async def sweep_forever():
        while True:
            try:
                sweep_everything(demo, directory, own_files, first_seen, max_age)
            except Exception:  # never let housekeeping take the server down
                log.exception("housekeeping failed; it will try again")
            await asyncio.sleep(every)

    tasks = [asyncio.create_task(sweep_forever())]
    if drain is not None:
        tasks.append(asyncio.create_task(drain_when_asked(demo, drain)))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()


AUDIO_BY_URL_REFUSED = "Please upload the recording itself: links to audio are not accepted."


def refuse_audio_by_url(demo: gr.Blocks) -> None:
    """Accept only recordings uploaded to this server, never a URL named in a request.

    Gradio downloads any public URL that a request names as a file (``{"path": "https://..."}``,
    or ``handle_file(url)`` in gradio_client), with no size limit: a stranger's string would become a
    URL the server reads. Only non-public addresses are refused by Gradio itself.
    """
    from gradio_client.utils import is_http_url_like

    for block in demo.blocks.values():
        if not isinstance(block, gr.Audio):
            continue
        move = block.async_move_resource_to_block_cache

        async def uploads_only(url_or_file_path, _move=move):
            if url_or_file_path is not None and is_http_url_like(str(url_or_file_path)):
                raise gr.Error(AUDIO_BY_URL_REFUSED, print_exception=False)
            return await _move(url_or_file_path)

        block.async_move_resource_to_block_cache = uploads_only
