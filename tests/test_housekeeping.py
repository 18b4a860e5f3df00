"""Nothing piles up: uploads leave the disk and streamed answers leave memory once they are old.

The app sweeps every ``CACHE_SWEEP_S`` (files: Gradio's ``delete_cache``; memory: oracle.web.housekeeping)
what is older than ``CACHE_MAX_AGE_S``; ``ORACLE_CACHE_MAX_AGE=2`` makes both quick enough to test.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from oracle.limits import CACHE_MAX_AGE_S, CACHE_SWEEP_S
from harness.gradio_probes import requests_in_memory, streams_in_memory, uploaded_files
from oracle.web.housekeeping import cache_sweep_settings
from harness.audio_tools import follow_stream
from harness.hearing import assert_heard_gist
from harness.server import serve


def test_the_sweep_settings_follow_the_environment(monkeypatch):
    monkeypatch.delenv("ORACLE_CACHE_MAX_AGE", raising=False)
    assert cache_sweep_settings() == (CACHE_SWEEP_S, CACHE_MAX_AGE_S)
    assert cache_sweep_settings("2") == (2, 2)
    assert cache_sweep_settings("nonsense") == (CACHE_SWEEP_S, CACHE_MAX_AGE_S)


@pytest.fixture
def quick_sweep(oracle, tmp_path, monkeypatch):
    # Its own cache folder: the sweep deletes every file older than 6 s there (long enough for a question to
    # be heard on a busy machine before its upload goes: with 2 s, CI saw it go before the test looked).
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ORACLE_CACHE_MAX_AGE", "6")
    demo, url = serve(oracle, tmp_path)
    yield demo, Client(url, verbose=False, download_files=False)
    demo.close()


def test_old_uploads_and_streamed_answers_are_let_go(quick_sweep, speech):
    demo, client = quick_sweep
    assert demo.delete_cache == (6, 6)
    uploads: list[Path] = []
    streams = 0
    for question in ["Should I learn to play the piano?", "Will my garden grow this summer?"]:
        known = uploaded_files(demo)
        heard, answer = client.predict(handle_file(str(speech.say(question))), api_name="/ask")
        new = list(uploaded_files(demo) - known)
        assert len(new) == 1
        assert_heard_gist(heard, question)  # the upload was on disk: it was heard
        uploads += new
        final = client.submit(answer, api_name="/speak").result(timeout=30)
        assert follow_stream(final["url"], time.monotonic() + 30).ended
        streams = max(streams, streams_in_memory(demo))
        assert requests_in_memory(demo)
    assert streams >= 1

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not any(p.exists() for p in uploads) and not streams_in_memory(demo) and not requests_in_memory(demo):
            break
        time.sleep(0.2)
    assert not any(p.exists() for p in uploads), "old uploads are still on disk"
    assert not streams_in_memory(demo), "old streamed answers are still in memory"
    assert not requests_in_memory(demo), "old requests are still in memory"
    # And the app goes on answering and streaming as before.
    final = client.submit("Time will tell.", api_name="/speak").result(timeout=30)
    assert follow_stream(final["url"], time.monotonic() + 30).segments
