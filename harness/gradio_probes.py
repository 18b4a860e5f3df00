"""Probes into what Gradio 6.17 keeps, for tests and benchmarks only: how many streams, requests, visits and
diff records it holds, which files were uploaded, how its queue runs each event. Like
``oracle.web.gradio_adapter`` (which the app uses), they read Gradio's private state: kept out of the app.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import gradio as gr


def run(coroutine):
    """Run one of Gradio's coroutines to its end on a fresh event loop in its own thread (a browser test's
    Playwright may keep a loop running in this one)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result(timeout=60)


def streams_in_memory(demo: gr.Blocks) -> int:
    """How many streamed answers Gradio holds in memory now."""
    return sum(len(runs) for runs in demo.pending_streams.values())


def requests_in_memory(demo: gr.Blocks) -> int:
    """How many requests the queue still keeps a record of."""
    return len(demo._queue.event_analytics) + len(demo._queue.event_ids_to_events)


def uploaded_files(demo: gr.Blocks) -> set[Path]:
    """Every file uploaded to this server so far (as Gradio tracks them)."""
    return {Path(path) for path in demo.upload_file_set}


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


def visits_in_memory(demo: gr.Blocks) -> int:
    return len(demo.state_holder.session_data)


def diff_records(demo: gr.Blocks, session_hash: str) -> int:
    """How many generators' last outputs Gradio keeps for one visit."""
    return len(demo.pending_diff_streams.get(session_hash, {}))
