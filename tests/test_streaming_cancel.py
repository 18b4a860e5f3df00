"""A spoken answer that nobody listens to any more stops being made.

The proof is the voice engine's own count (``harness.fault_engines.WatchedSpeaker``): the number of streams
open and the number of chunks it has produced. After a ``gradio_client`` job is cancelled, or the
connection of a closed tab drops, the engine may finish the chunk it is on, and then must stop.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from gradio_client import Client

from oracle.pipeline import Oracle
from oracle.web.flow import OracleFlow
from oracle.web.served import served
from harness.audio_tools import first_update
from harness.gradio_api import api_fn_index, requests_waiting
from harness.fault_engines import WatchedSpeaker
from harness.speaking import LONG_TEXT, LONG_TEXT_CHUNKS, wait_for_no_new_chunks, wait_until, watched_voice
from harness.hearing import CLEAR_QUESTION, assert_heard

# Chunks the engine may still finish after the listener left: the one in flight and the one queued
# behind the last message sent.
GRACE_CHUNKS = 2


def assert_voice_stopped(flow, at_stop: int, before: int, streams: int = 1):
    """The engine made at most the chunks in flight when its listeners left, and nothing after; any
    stream Gradio left suspended instead of closing is closed by the next request."""
    meter = watched_voice(flow.oracle)
    after = wait_for_no_new_chunks(meter)
    assert after - at_stop <= GRACE_CHUNKS * streams, f"{after - at_stop} chunks made after the listener left"
    # The answers were cut short (how far they got before the cancel depends on the machine's load).
    made = after - before
    assert made < streams * LONG_TEXT_CHUNKS, f"all {made} chunks were made: the voice never stopped"
    if meter.open_streams:
        close_abandoned_by_the_next_stream(flow)
    wait_until(lambda: meter.open_streams == 0, 30, "an abandoned stream was never closed")
    assert_stays_quiet(meter)


def close_abandoned_by_the_next_stream(flow) -> None:
    """Start one more stream with every idle stream counted as abandoned (nobody listens to any now):
    what happens ``idle_s`` after a stream was left suspended, without waiting ``idle_s``."""
    patience = flow.abandoned.idle_s
    flow.abandoned.idle_s = 0.0
    try:
        assert len(list(flow.speak("Yes."))) == 1
    finally:
        flow.abandoned.idle_s = patience


def assert_stays_quiet(meter, seconds: float = 2.0):
    chunks = meter.chunks
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert meter.open_streams == 0, "a stream started speaking again"
        time.sleep(0.05)
    assert meter.chunks == chunks, "the voice kept producing chunks"


@pytest.fixture
def flow(served_demo):
    return served(served_demo).flow


@pytest.fixture
def meter(flow):
    meter = watched_voice(flow.oracle)
    wait_for_no_new_chunks(meter, quiet_s=1.0, timeout_s=30)
    flow.abandoned.close_idle(0.0)  # nothing is live between tests; close what an earlier test abandoned
    assert meter.open_streams == 0
    meter.reset_peak()
    return meter


def test_cancelling_a_gradio_client_job_stops_the_voice(client, flow, meter):
    before = meter.chunks
    job = client.submit(LONG_TEXT, api_name="/speak")
    assert first_update(job, timeout_s=20)["is_stream"]
    at_cancel = meter.chunks
    job.cancel()
    assert_voice_stopped(flow, at_cancel, before)
    # The speaking slot came back: a new answer is spoken from start to end.
    final = client.submit("Time will tell.", api_name="/speak").result(timeout=20)
    assert final["is_stream"] and meter.open_streams == 0


def test_a_job_cancelled_as_its_stream_starts_stops_the_voice(client, flow, meter):
    """The race in which Gradio leaves the generator suspended rather than closed."""
    before = meter.chunks
    job = client.submit(LONG_TEXT, api_name="/speak")
    wait_until(lambda: meter.open_streams == 1, 20, "the stream did not start")
    at_cancel = meter.chunks
    job.cancel()
    assert_voice_stopped(flow, at_cancel, before)


def test_closing_the_connection_mid_stream_stops_the_voice(server_url, flow, meter):
    """What a browser does when its tab is closed: the event stream's connection just drops."""
    session_hash = uuid.uuid4().hex
    before = meter.chunks
    joined = httpx.post(f"{server_url}gradio_api/queue/join", timeout=10, json={
        "data": [LONG_TEXT], "fn_index": api_fn_index(server_url, "speak"), "session_hash": session_hash,
        "event_data": None, "trigger_id": None})
    joined.raise_for_status()
    deadline = time.monotonic() + 20
    with httpx.Client(timeout=httpx.Timeout(20)) as http:
        with http.stream("GET", f"{server_url}gradio_api/queue/data", params={"session_hash": session_hash}) as sse:
            for line in sse.iter_lines():
                assert time.monotonic() < deadline, "no audio within 20 s"
                # A generator's updates arrive as "process_generating" (".stream()" events use another).
                if line.startswith("data:") and json.loads(line[5:])["msg"] == "process_generating":
                    break
            at_close = meter.chunks
    # Leaving both blocks closed the connection mid-stream.
    assert_voice_stopped(flow, at_close, before)


def test_two_voices_at_once_and_a_job_cancelled_in_the_queue_never_speaks(server_url, flow, meter):
    import app

    before = meter.chunks
    clients = [Client(server_url, verbose=False, download_files=False) for _ in range(3)]
    running = [c.submit(LONG_TEXT, api_name="/speak") for c in clients[:2]]
    try:
        wait_until(lambda: meter.open_streams == app.SPEAKING_CONCURRENCY, 20, "two streams did not start")
        queued = clients[2].submit(LONG_TEXT, api_name="/speak")
        wait_until(lambda: requests_waiting(server_url) == 1 or meter.open_streams > app.SPEAKING_CONCURRENCY, 20,
                   "the third answer neither waited in the queue nor started")
        # While the two voices go on speaking, the third waits its turn: it neither starts nor leaves the queue.
        at_queued = meter.chunks
        wait_until(lambda: meter.chunks >= at_queued + 4, 30, "the two voices stopped speaking")
        assert meter.open_streams == app.SPEAKING_CONCURRENCY, "a third stream ran past the speaking limit"
        assert requests_waiting(server_url) == 1, "the third answer left the queue while both voices spoke"
        queued.cancel()
    finally:
        for job in running:
            job.cancel()
        at_cancel = meter.chunks  # both listeners have left (each cancel returns once the server has it)
    assert_voice_stopped(flow, at_cancel, before, streams=2)
    assert meter.peak_streams == app.SPEAKING_CONCURRENCY, "the job cancelled in the queue ran"


def test_hearing_and_answering_are_not_held_up_by_speaking(server_url, client, speech, meter, flow, oracle):
    from gradio_client import handle_file

    before = meter.chunks
    speakers = [Client(server_url, verbose=False, download_files=False) for _ in range(2)]
    running = [c.submit(LONG_TEXT, api_name="/speak") for c in speakers]
    try:
        wait_until(lambda: meter.open_streams == 2, 20, "two streams did not start")
        answer = client.predict("Will my garden grow this summer?", api_name="/ask_text")
        question, _ = client.predict(handle_file(str(speech.say(*CLEAR_QUESTION))),
                                     api_name="/ask")
        # Both were answered while the two long answers were still being spoken: not queued behind them.
        assert meter.open_streams == 2, "hearing and answering waited for speaking to finish"
    finally:
        for job in running:
            job.cancel()
        at_cancel = meter.chunks  # both listeners have left (each cancel returns once the server has it)
    assert answer in {p.text for p in oracle.answerer.proverbs} | {"Foolish questions get foolish answers."}
    assert_heard(question, CLEAR_QUESTION.text)
    assert_voice_stopped(flow, at_cancel, before, streams=2)


def test_a_stream_left_suspended_is_closed_when_the_next_one_starts(oracle):
    """What Gradio sometimes does on cancel, done by hand: take one chunk, then walk away. Whether a stream
    counts as abandoned is told by ``idle_s``; the test sets it to either side of the time that has passed
    instead of waiting for a clock."""
    meter = WatchedSpeaker(oracle.speaker)
    own = OracleFlow(Oracle(oracle.transcriber, oracle.answerer, meter))
    abandoned = own.speak(LONG_TEXT)
    assert next(abandoned)[1].size > 0
    assert meter.open_streams == 1
    own.abandoned.idle_s = 3600.0  # not idle long enough: it might still be listened to
    assert len(list(own.speak("Yes."))) == 1
    assert meter.open_streams == 1
    own.abandoned.idle_s = 0.0  # idle for longer than that: abandoned
    chunks = meter.chunks
    assert len(list(own.speak("Yes."))) == 1
    assert meter.open_streams == 0
    assert meter.chunks == chunks + 1
    with pytest.raises(StopIteration):
        next(abandoned)
