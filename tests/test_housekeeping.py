"""Nothing piles up: uploads leave the disk and streamed answers leave memory once they are old.

The app sweeps every ``CACHE_SWEEP_S`` (files: Gradio's ``delete_cache``; memory: oracle.web.housekeeping)
what is older than ``CACHE_MAX_AGE_S``; ``ORACLE_CACHE_MAX_AGE=2`` makes both quick enough to test.

The test never races the sweep's clock: while it needs the uploads, it holds them in use (their files
keep being touched, so both sweeps see them as new), and it looks at a streamed answer while it is still
being spoken (the sweep lets go of neither a running stream nor a running request). Only then are they
left to age, and the test waits, up to a deadline, for the sweep to let them go.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from harness.audio_tools import first_update, follow_stream
from harness.gradio_probes import requests_in_memory, streams_in_memory, uploaded_files
from harness.hearing import assert_heard_gist
from harness.server import serve
from harness.speaking import LONG_TEXT, wait_until
from oracle.limits import CACHE_MAX_AGE_S, CACHE_SWEEP_S
from oracle.web.housekeeping import cache_sweep_settings

MAX_AGE_S = 2
# Far above what the sweep needs (MAX_AGE_S plus one sweep, twice over for Gradio's own): a hang guard.
LET_GO_WITHIN_S = 60


def test_the_sweep_settings_follow_the_environment(monkeypatch):
    monkeypatch.delenv("ORACLE_CACHE_MAX_AGE", raising=False)
    assert cache_sweep_settings() == (CACHE_SWEEP_S, CACHE_MAX_AGE_S)
    assert cache_sweep_settings("2") == (2, 2)
    assert cache_sweep_settings("nonsense") == (CACHE_SWEEP_S, CACHE_MAX_AGE_S)


@pytest.fixture(scope="module")
def quick_sweep(oracle, tmp_path_factory):
    """The app with its own cache folder, swept every 2 s of what is older than 2 s: (demo, client, folder)."""
    directory = tmp_path_factory.mktemp("quick-sweep")
    cache = directory / "cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_TEMP_DIR", str(cache))
        patch.setenv("ORACLE_CACHE_MAX_AGE", str(MAX_AGE_S))
        demo, url = serve(oracle, directory)
        try:
            yield demo, Client(url, verbose=False, download_files=False), cache
        finally:
            demo.close()


@contextlib.contextmanager
def held_in_use(folder: Path, every_s: float = 0.05):
    """Every file under ``folder`` is touched every ``every_s`` until the block ends: to both sweeps (which
    judge a file by when it was last written) each is new for as long as the test needs it."""
    done = threading.Event()

    def touch_all() -> None:
        while not done.is_set():
            for path in folder.rglob("*"):
                with contextlib.suppress(OSError):  # a file may go between listing and touching
                    if path.is_file():
                        os.utime(path)
            done.wait(every_s)

    toucher = threading.Thread(target=touch_all, name="held-in-use", daemon=True)
    toucher.start()
    try:
        yield
    finally:
        done.set()
        toucher.join(timeout=10)


def test_old_uploads_and_streamed_answers_are_let_go(quick_sweep, speech):
    demo, client, cache = quick_sweep
    assert demo.delete_cache == (MAX_AGE_S, MAX_AGE_S)
    uploads: list[Path] = []
    with held_in_use(cache):
        for question in ["Should I learn to play the piano?", "Will my garden grow this summer?"]:
            known = uploaded_files(demo)
            heard, _answer = client.submit(handle_file(str(speech.say(question))), api_name="/ask").result(timeout=120)
            assert_heard_gist(heard, question)
            new = list(uploaded_files(demo) - known)
            assert len(new) == 1 and new[0].exists(), new
            uploads += new
        # A long answer, looked at while it is being spoken: its stream and its request are held for now.
        job = client.submit(LONG_TEXT, api_name="/speak")
        first = first_update(job, timeout_s=60)
        assert first["is_stream"]
        assert streams_in_memory(demo) >= 1, "a stream being spoken is not in memory"
        assert requests_in_memory(demo) >= 1, "a running request is not in memory"
        # Followed as a player does, while it is spoken: once it has ended, the sweep may let it go at any time.
        assert follow_stream(first["url"], time.monotonic() + 120).ended
        job.result(timeout=120)
    # From here on, everything ages; the sweep must let it all go.
    wait_until(lambda: not any(path.exists() for path in uploads), LET_GO_WITHIN_S,
               f"old uploads are still on disk {LET_GO_WITHIN_S} s later: {[p for p in uploads if p.exists()]}")
    wait_until(lambda: not streams_in_memory(demo), LET_GO_WITHIN_S, "old streamed answers are still in memory")
    wait_until(lambda: not requests_in_memory(demo), LET_GO_WITHIN_S, "old requests are still in memory")
    # And the app goes on answering and streaming as before.
    final = client.submit("Time will tell.", api_name="/speak").result(timeout=60)
    assert follow_stream(final["url"], time.monotonic() + 60).segments
