"""How the remote engines call the Hugging Face Inference API: one policy for timeouts, retries and errors.

- Every attempt is bounded twice: ``huggingface_hub`` gets ``timeout=`` for the request itself, and the
  whole attempt runs under a hard deadline, because for a model *id* (not a URL) the client first looks
  the model up on the Hub with no timeout of its own.
- At most one retry, and only for HTTP 429 (after ``Retry-After``, capped) and 5xx. A timeout, a refused
  connection, a 4xx or an unreadable reply fails at once: the caller has a local engine to fall back on.
- 401/403 are logged as "token rejected" and never retried.
- Every failure leaves as ``EngineUnavailable`` with a friendly message. Neither messages nor log lines
  carry the token, a raw URL (which could hold credentials) or the library's own error text (which
  quotes URLs and server replies); the original exception is not chained either.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from datetime import datetime, timezone
from typing import Callable, TypeVar
from urllib.parse import urlsplit

from oracle.errors import EngineUnavailable

T = TypeVar("T")

log = logging.getLogger(__name__)

# Longest wait honoured from a Retry-After header (a voice answer cannot wait longer).
RETRY_AFTER_CAP_S = 2.0
# Wait before the one retry of a 5xx or a 429 without Retry-After.
DEFAULT_RETRY_DELAY_S = 0.5
# The hard deadline of one attempt, as a multiple of the request timeout (room for the Hub look-up).
DEADLINE_FACTOR = 2.0


class DeadlineExceeded(TimeoutError):
    """An attempt (Hub look-up plus request) ran past its hard deadline."""


def public_name(model: str) -> str:
    """A model id as it is; a URL reduced to scheme, host and port (no credentials, path or query)."""
    if not model.startswith(("http://", "https://")):
        return model
    parts = urlsplit(model)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def status_of(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def retry_delay(error: BaseException) -> float:
    """Seconds to wait before the retry: ``Retry-After`` (seconds or an HTTP date), capped."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or {}
    raw = str(headers.get("Retry-After", "")).strip()
    if not raw:
        return DEFAULT_RETRY_DELAY_S
    try:
        delay = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_DELAY_S
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        delay = (when - datetime.now(timezone.utc)).total_seconds()
    if delay != delay:  # NaN
        return DEFAULT_RETRY_DELAY_S
    return min(max(delay, 0.0), RETRY_AFTER_CAP_S)


def run_with_deadline(call: Callable[[], T], deadline_s: float) -> T:
    """Run ``call`` in a daemon thread; give up waiting after ``deadline_s``.

    A call that overruns is abandoned, not killed: its own socket timeout ends it later, and being a
    daemon thread it never holds up interpreter exit.
    """
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as error:  # handed to the caller below
            box["error"] = error

    worker = threading.Thread(target=target, name="inference-api-call", daemon=True)
    worker.start()
    worker.join(deadline_s)
    if worker.is_alive():
        raise DeadlineExceeded(f"no reply within {deadline_s:.1f} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def _describe(error: BaseException) -> str:
    """What went wrong, for the log: the kind of failure, never the library's message."""
    status = status_of(error)
    if status is not None:
        return f"HTTP {status}"
    if isinstance(error, (TimeoutError, DeadlineExceeded)) or "Timeout" in type(error).__name__:
        return f"timed out ({type(error).__name__})"
    if isinstance(error, (ValueError, KeyError, TypeError, AttributeError, IndexError)):
        return f"unreadable reply ({type(error).__name__})"
    return type(error).__name__


def _friendly(service: str, error: BaseException) -> str:
    status = status_of(error)
    if status in (401, 403):
        return f"The {service} refused the oracle's access token. Please try again later."
    if status == 429:
        return f"The {service} is busy right now. Please try again in a moment."
    if isinstance(error, (TimeoutError, DeadlineExceeded)) or "Timeout" in type(error).__name__:
        return f"The {service} took too long to reply. Please try again in a moment."
    return f"The {service} is unavailable right now. Please try again in a moment."


def call_inference_api(call: Callable[[], T], *, service: str, model: str, timeout_s: float) -> T:
    """Run one Inference API call under the policy above.

    ``service`` names it for people ("hearing service"); ``model`` is only logged via ``public_name``.
    """
    where = public_name(model)
    deadline_s = max(timeout_s * DEADLINE_FACTOR, timeout_s + 1.0)
    attempt = 1
    while True:  # at most two attempts: every path but the one retry returns or raises
        started = time.monotonic()
        try:
            return run_with_deadline(call, deadline_s)
        except Exception as error:
            status = status_of(error)
            elapsed = time.monotonic() - started
            if status in (401, 403):
                log.error("%s (%s): the Inference API rejected the token (HTTP %d); check HF_TOKEN",
                          service, where, status)
                raise EngineUnavailable(_friendly(service, error)) from None
            retryable = status == 429 or (status is not None and 500 <= status <= 599)
            if retryable and attempt == 1:
                delay = retry_delay(error)
                log.warning("%s (%s): %s after %.2f s; retrying once in %.2f s",
                            service, where, _describe(error), elapsed, delay)
                time.sleep(delay)
                attempt = 2
                continue
            log.warning("%s (%s): %s after %.2f s (attempt %d); giving up",
                        service, where, _describe(error), elapsed, attempt)
            raise EngineUnavailable(_friendly(service, error)) from None
