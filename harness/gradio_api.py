"""Talking to the running app below ``gradio_client``: raw HTTP to Gradio's API, as a browser does."""

from __future__ import annotations

import json
import time
import uuid

import httpx

TIMEOUT_S = 10


def api_fn_index(server_url: str, api_name: str) -> int:
    """The index Gradio's queue knows an endpoint by (``fn_index`` in ``/gradio_api/queue/join``)."""
    config = httpx.get(f"{server_url}config", timeout=TIMEOUT_S).json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)


def join_by_hand(server_url: str, api_name: str, data: list) -> dict:
    """Call an endpoint with a hand-made payload, as an attacker would; returns the final message (or
    ``{"msg": "refused", ...}`` when the queue turns the request away)."""
    session_hash = uuid.uuid4().hex
    joined = httpx.post(f"{server_url}gradio_api/queue/join", timeout=TIMEOUT_S, json={
        "data": data, "fn_index": api_fn_index(server_url, api_name), "session_hash": session_hash,
        "event_data": None, "trigger_id": None})
    if joined.status_code != 200:
        return {"msg": "refused", "status": joined.status_code, "text": joined.text}
    deadline = time.monotonic() + 30
    with httpx.stream("GET", f"{server_url}gradio_api/queue/data", params={"session_hash": session_hash},
                      timeout=30) as sse:
        for line in sse.iter_lines():
            assert time.monotonic() < deadline, "no answer within 30 s"
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message["msg"] == "process_completed":
                    return message
    raise AssertionError("the event stream ended without a result")


def requests_waiting(server_url: str) -> int:
    """How many requests wait in the app's queue for a slot now (Gradio's ``/gradio_api/queue/status``)."""
    return httpx.get(f"{server_url}gradio_api/queue/status", timeout=TIMEOUT_S).json()["queue_size"]
