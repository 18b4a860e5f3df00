"""Talking to the running app below ``gradio_client``: raw HTTP to Gradio's API, as a browser does."""

from __future__ import annotations

import httpx

TIMEOUT_S = 10


def api_fn_index(server_url: str, api_name: str) -> int:
    """The index Gradio's queue knows an endpoint by (``fn_index`` in ``/gradio_api/queue/join``)."""
    config = httpx.get(f"{server_url}config", timeout=TIMEOUT_S).json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)
