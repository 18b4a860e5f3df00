"""Keeping a long-running server healthy: every sweep of Gradio's file cache also forgets what Gradio
keeps in memory for finished requests (see ``gradio_internals.forget_finished_requests``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from oracle.limits import CACHE_MAX_AGE_S, CACHE_SWEEP_S, SPEAK_TIME_LIMIT_S
from oracle.web.gradio_internals import forget_finished_requests

log = logging.getLogger(__name__)


def cache_sweep_settings(max_age: str | None = None) -> tuple[int, int]:
    """(sweep every, delete files older than) in seconds, from ``ORACLE_CACHE_MAX_AGE`` or the default."""
    raw = (max_age if max_age is not None else os.environ.get("ORACLE_CACHE_MAX_AGE", "")).strip()
    age = int(raw) if raw.isdigit() and int(raw) > 0 else CACHE_MAX_AGE_S
    return min(CACHE_SWEEP_S, age), age


@contextlib.asynccontextmanager
async def housekeeping(server_app):
    """Server lifespan: every sweep of the file cache, forget old requests' in-memory leftovers too."""
    demo = server_app.get_blocks()
    every, max_age = demo.delete_cache or cache_sweep_settings()
    first_seen: dict = {}

    async def sweep_forever():
        while True:
            await asyncio.sleep(every)
            try:
                dropped = forget_finished_requests(demo, first_seen, max_age, SPEAK_TIME_LIMIT_S)
                if dropped:
                    log.info("housekeeping: forgot %d finished requests", dropped)
            except Exception:  # never let housekeeping take the server down
                log.exception("housekeeping failed; it will try again")

    task = asyncio.create_task(sweep_forever())
    try:
        yield
    finally:
        task.cancel()
