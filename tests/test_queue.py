"""The queue as configured for real use: limits in the served config, a full queue told "busy, try
again", and twenty people at once all served."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from gradio_client.utils import QueueError

import app
from oracle.pipeline import Oracle
from oracle.web.served import served
from harness.gradio_probes import event_limits, queue_max_size
from oracle.answer.guard import FOOLISH_ANSWER
from harness.audio_tools import StreamHung, follow_stream
from harness.server import serve
from harness.gradio_api import api_fn_index, requests_waiting
from harness.fault_engines import WatchedSpeaker
from harness.speaking import LONG_TEXT, wait_for_no_new_chunks, wait_until, watched_voice

API_CONCURRENCY = {"ask": "think", "ask_text": "answer", "consult": "think", "speak": "speak"}
GROUP_LIMITS = {"think": app.THINKING_CONCURRENCY, "answer": app.ANSWERING_CONCURRENCY,
                "speak": app.SPEAKING_CONCURRENCY, "listen": app.LISTENING_CONCURRENCY}


def test_served_config_carries_the_limits(server_url):
    config = httpx.get(f"{server_url}config", timeout=10).json()
    assert config["max_file_size"] == 10 * 1024 * 1024
    dependencies = config["dependencies"]
    by_api = {d["api_name"]: d for d in dependencies if d.get("api_name") in API_CONCURRENCY}
    assert set(by_api) == set(API_CONCURRENCY)
    # Every UI event that hears or answers ignores clicks while it is pending (no double submissions).
    ui_thinking = [d for d in dependencies if d.get("api_visibility") == "private" and d["trigger_mode"] != "once"
                   and any(t[1] in ("click", "submit", "stop_recording") for t in d["targets"])]
    assert ui_thinking == []


def test_events_queue_in_their_groups_with_their_limits(served_demo):
    """The limits the queue actually enforces, read from the running app."""
    events = event_limits(served_demo)
    limits = {event.api_name: (event.concurrency_id, event.concurrency_limit) for event in events if event.api_name}
    for api_name, group in API_CONCURRENCY.items():
        assert limits[api_name] == (group, GROUP_LIMITS[group])
    # Everything that goes through the queue and runs Python is in one of the groups, except the
    # page's light UI updates, which use no engine: redrawing the history (gr.render's "apply"), showing
    # "done" when the player stops, and the page's words in the visitor's language on load. Loading an example does not queue at all.
    light_ui = {"apply", "finished", "page_words"}
    groups = {(event.concurrency_id, event.concurrency_limit) for event in events
              if event.queued and event.runs_python and event.name not in light_ui}
    # Typed questions are answered in their own group ("answer"), never behind recordings being heard; the
    # streamed microphone's chunks are taken in "listen": each is a VAD pass, and hearing runs on each
    # recording's own threads (oracle.conversation), at most THINKING_CONCURRENCY transcriptions at once.
    assert groups == set(GROUP_LIMITS.items()), groups
    assert queue_max_size(served_demo) == app.QUEUE_MAX_SIZE
    assert served_demo.max_file_size == 10 * 1024 * 1024


@pytest.fixture
def tiny_queue(oracle, tmp_path, monkeypatch):
    """The real app with a queue of one waiting place, so that it fills up in a test."""
    monkeypatch.setattr(app, "QUEUE_MAX_SIZE", 1)
    own = Oracle(oracle.transcriber, oracle.answerer, WatchedSpeaker(oracle.speaker))
    demo, url = serve(own, tmp_path)
    yield url, served(demo).flow
    demo.close()


def test_a_full_queue_says_busy_try_again(tiny_queue):
    tiny_queue, flow = tiny_queue
    meter = watched_voice(flow.oracle)
    clients = [Client(tiny_queue, verbose=False, download_files=False) for _ in range(4)]
    jobs = []
    try:
        # One at a time: with a single waiting place, a second request that arrives before the queue
        # has moved the first one to a slot is (rightly) refused.
        for i in range(2):
            jobs.append(clients[i].submit(LONG_TEXT, api_name="/speak"))
            wait_until(lambda: meter.open_streams == i + 1, 20, "the two speaking slots did not fill")
        waiting = clients[2].submit("Time will tell.", api_name="/speak")  # the one waiting place
        jobs.append(waiting)
        wait_until(lambda: requests_waiting(tiny_queue) == 1, 20, "the third request never took the waiting place")
        # Refused, not queued: result() would raise TimeoutError instead if the request waited.
        with pytest.raises(QueueError, match=r"^Queue is full! Please try again\.$"):
            clients[3].submit("Will I be refused?", api_name="/ask_text").result(timeout=30)
        # What the browser and raw HTTP clients get: 503 Service Unavailable.
        refused = httpx.post(f"{tiny_queue}gradio_api/queue/join", timeout=10, json={
            "data": ["Will I?"], "fn_index": api_fn_index(tiny_queue, "ask_text"),
            "session_hash": "full-queue-probe"})
        assert refused.status_code == 503
    finally:
        for job in jobs:
            job.cancel()
    wait_for_no_new_chunks(meter)
    # Once there is room again, the same person is served; streams the cancels left suspended are
    # closed by the next one to start (any idle at all counts as abandoned now: nobody else listens).
    assert Client(tiny_queue, verbose=False, download_files=False).predict(
        "Will I be served now?", api_name="/ask_text")
    flow.abandoned.idle_s = 0.0
    final = clients[3].submit("Time will tell.", api_name="/speak").result(timeout=20)
    assert follow_stream(final["url"], time.monotonic() + 20).ended
    wait_until(lambda: meter.open_streams == 0, 30, "abandoned streams were never closed")


def test_twenty_people_at_once_are_all_served(server_url, oracle):
    """Each asks a typed question and listens to the whole streamed answer, all at the same time."""
    users = 20
    book = {p.text for p in oracle.answerer.proverbs} | {FOOLISH_ANSWER}
    outcomes: dict[int, str] = {}
    barrier = threading.Barrier(users, timeout=60)

    def user(i: int):
        try:
            # Twenty people, twenty addresses (uvicorn trusts X-Forwarded-For from 127.0.0.1): the app caps
            # requests waiting per address (tests/test_attacks.py).
            client = Client(server_url, verbose=False, download_files=False, httpx_kwargs={"timeout": 30},
                            headers={"X-Forwarded-For": f"10.0.0.{i + 1}"})
            barrier.wait()
            deadline = time.monotonic() + 90
            answer = client.submit(f"Will person number {i} find happiness?", api_name="/ask_text").result(timeout=60)
            assert answer in book, answer
            final = client.submit(answer, api_name="/speak").result(timeout=max(1, deadline - time.monotonic()))
            stream = follow_stream(final["url"], deadline)
            assert stream.ended and stream.segments
            outcomes[i] = "served"
        except QueueError:
            outcomes[i] = "refused"
        except (StreamHung, TimeoutError):
            outcomes[i] = "hung"
        except (AppError, Exception) as error:  # noqa: BLE001 - every other outcome is a failure
            outcomes[i] = f"failed: {type(error).__name__}: {error}"

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=150)
    assert not any(t.is_alive() for t in threads), "a user never finished"
    failures = {i: o for i, o in outcomes.items() if o != "served"}
    assert failures == {}, failures
    assert len(outcomes) == users
