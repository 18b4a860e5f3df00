"""Keeping a long-running server healthy: every sweep deletes the old files of Gradio's cache (every file
the app writes there, and those of earlier runs at start), forgets what Gradio keeps in memory for
finished requests and idle visits (see ``gradio_adapter.memory``); and a SIGTERM drains the server."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import time
from pathlib import Path

import gradio as gr

from oracle.limits import (CACHE_MAX_AGE_S, CACHE_SWEEP_S, DRAIN_GRACE_S, DRAIN_LINGER_S, LISTEN_IDLE_S,
                           SPEAK_TIME_LIMIT_S)
from oracle.errors import Closing
from oracle.web.gradio_adapter.draining import end_running_streams, refuse_waiting_requests, work_in_progress
from oracle.web.gradio_adapter.memory import (blocks_of, cache_dir, cache_sweep_of, files_kept_in_cache,
                                              FirstSeen, forget_finished_requests, forget_idle_visits,
                                              keep_for_good)
from oracle.web.gradio_adapter.microphone import SilentStreams, end_microphone_streams
from oracle.web.middleware import Drain
from oracle.web.served import served
from oracle.web.told import for_people, told_in

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter

# Files put in the cache after this moment and before the server starts are the app's own (the
# examples, copied there while the page is built): kept for the life of the server.
LOADED_AT = time.time()


def give_freed_memory_back() -> None:
    """Have glibc return what Python frees to the system. Its mmap threshold grows with every large block
    freed (up to 32 MB), so a crowd's decoded recordings (a few MB each) end up in heaps it never shrinks:
    100 visits that sent 30 s each and left kept +600 MB for good. A fixed 1 MB threshold keeps large
    blocks in their own mappings, unmapped when freed; ``malloc_trim`` hands back what the heaps hold free."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 20)
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def cache_sweep_settings(max_age: str | None = None) -> tuple[int, int]:
    """(sweep every, delete files older than) in seconds, from ``ORACLE_CACHE_MAX_AGE`` or the default."""
    raw = (max_age if max_age is not None else os.environ.get("ORACLE_CACHE_MAX_AGE", "")).strip()
    age = int(raw) if raw.isdigit() and int(raw) > 0 else CACHE_MAX_AGE_S
    return min(CACHE_SWEEP_S, age), age


def sweep_old_files(directory: Path, max_age: float, keep: set[Path] = frozenset()) -> int:
    """Delete every file under ``directory`` last written more than ``max_age`` seconds ago (except
    ``keep``), then the folders left empty; how many files. Gradio's own cache sweep deletes only the
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


def sweep_everything(demo: gr.Blocks, directory: Path, own_files: set[Path], first_seen: FirstSeen,
                     max_age: float) -> None:
    files = sweep_old_files(directory, max_age, own_files | files_kept_in_cache(demo))
    requests = forget_finished_requests(demo, first_seen, max_age, SPEAK_TIME_LIMIT_S)
    visits = forget_idle_visits(demo, max_age)
    if files or requests or visits:
        log.info("housekeeping: deleted %d old files, forgot %d finished requests and %d idle visits",
                 files, requests, visits)


async def drain_when_asked(demo: gr.Blocks, drain: Drain) -> None:
    """On the server's event loop: once ``drain`` begins (SIGTERM; the front door refuses new work from
    then on), end what waits and the streams being spoken, each with a friendly last message, give the
    rest DRAIN_GRACE_S to finish, and keep serving the playlists DRAIN_LINGER_S more so that players
    hear the end of every stream."""
    await drain.wait_started()
    closing = _closing(demo)
    waiting = await refuse_waiting_requests(demo, closing)
    end_microphone_streams(demo)
    flow = served(demo).flow
    if flow is not None:
        flow.conversations.close_all()
    streams = await end_running_streams(demo, closing)
    deadline = time.monotonic() + DRAIN_GRACE_S
    while any(work_in_progress(demo)) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        waiting += await refuse_waiting_requests(demo, closing)
    log.info("drained: %d waiting requests refused, %d streams ended early", waiting, streams)
    await asyncio.sleep(DRAIN_LINGER_S)
    drain.finish()


def _closing(demo: gr.Blocks):
    """What a request still waiting or being answered is told when the server closes: in the language it names
    (``served(demo).language_inputs``), else its browser's, else English."""
    language_inputs = served(demo).language_inputs
    return lambda fn, values, headers: for_people(
        Closing(), told_in(getattr(fn, "inputs", ()), values, headers, language_inputs))


@contextlib.asynccontextmanager
async def housekeeping(server_app, drain: Drain | None = None):
    """Server lifespan: sweep old files (those of earlier runs at once), Gradio's in-memory leftovers and
    idle visits every CACHE_SWEEP_S; drain when ``drain`` begins."""
    demo = blocks_of(server_app)
    every, max_age = cache_sweep_of(demo) or cache_sweep_settings()
    directory = cache_dir()
    own_files = {p for p in directory.rglob("*") if p.is_file() and p.lstat().st_ctime >= LOADED_AT}
    keep_for_good(demo, own_files)
    first_seen = FirstSeen()

    async def sweep_forever():
        while True:
            try:
                sweep_everything(demo, directory, own_files, first_seen, max_age)
            except Exception:  # never let housekeeping take the server down
                log.exception("housekeeping failed; it will try again")
            await asyncio.sleep(every)

    silent_streams = SilentStreams(LISTEN_IDLE_S)

    async def close_silent_recordings():
        """Microphone streams whose browser went silent end, and their recordings are let go, within about
        LISTEN_IDLE_S: they hold neither a listening slot nor memory."""
        while True:
            await asyncio.sleep(LISTEN_IDLE_S / 4)
            try:
                ended = silent_streams.end(demo)
                if ended:
                    log.info("ended %d microphone streams whose browsers went silent", ended)
                flow = served(demo).flow
                if (flow is not None and flow.conversations.close_idle()) or ended:
                    give_freed_memory_back()
            except Exception:  # never let housekeeping take the server down
                log.exception("closing silent recordings failed; it will try again")

    give_freed_memory_back()
    tasks = [asyncio.create_task(sweep_forever()), asyncio.create_task(close_silent_recordings())]
    if drain is not None:
        tasks.append(asyncio.create_task(drain_when_asked(demo, drain)))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
