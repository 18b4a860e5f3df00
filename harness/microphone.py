"""The streamed microphone over raw HTTP, as a browser's page drives it, and the app as a measured process.

What Gradio 6.17.3's page does with a streaming ``gr.Audio`` (its ``Index``/``Blocks`` scripts and
``gradio/routes.py``), step by step, and what ``Microphone`` does the same way:

1. Record: every ``stream_every`` seconds the recorder makes a WAV file of the audio since the last
   chunk (the first chunk's 44-byte header + the new samples), uploads it to ``/gradio_api/upload`` and
   hands the ``FileData`` to the ``stream`` event.
2. The first chunk *joins* the stream event: ``POST /gradio_api/queue/join`` with
   ``data: [chunk, null]`` (the second input is the visit's ``gr.State``: its value lives on the server),
   then the page follows ``GET /gradio_api/queue/data?session_hash=…`` (server-sent events). Until the
   server takes that first chunk (``process_starts``) the page drops new chunks.
3. Every later chunk goes to ``POST /gradio_api/stream/{event_id}``; the server answers each with one
   ``process_streaming`` message (the ``live`` words).
4. Stop: ``POST /gradio_api/stream/{event_id}/close`` (the stream event completes), then the
   ``stop_recording`` event joins the queue with ``data: [null]`` (the question as heard so far).
   Closing the page instead just drops the event-stream connection: nothing else is sent.

``Microphone`` sends chunks in lockstep by default (the next one only after the server answered the last),
paced at the speed of speech; ``send(wait=False)`` and ``pace_s=0`` send them as a busy browser does, bunched
(Gradio alone keeps only the newest chunk that arrives while one is being taken; the app keeps them in line:
``oracle.web.gradio_adapter.microphone.ChunksInOrder``). Every call has a timeout; the event-stream reader is a
daemon thread that ends on ``vanish()``/``close()``.

``AppProcess`` runs the app (``app.py``, ``python -m harness.fault_hearing KIND`` or
``-m harness.thread_census``) as a subprocess on 127.0.0.1 with its log in a file, and reads what it costs
from ``/proc``: memory (``VmRSS``, and ``VmHWM`` since ``reset_peak()``), threads (and, under
``harness.thread_census``, which of them are at work) and CPU time.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 10.0
CHUNK_S = 0.25  # the app's MICROPHONE_CHUNK_S: how often a browser sends a chunk
BROWSER_RATE = 48_000  # what browsers record at


# ---- chunks ----

def wav_chunk(samples: np.ndarray, rate: int, *, claimed_rate: int | None = None) -> bytes:
    """``samples`` (int16 or float in [-1, 1]; mono, or (frames, channels)) as a 16-bit PCM WAV file. The
    header says ``claimed_rate`` if given (a lie, for attacks) instead of ``rate``."""
    samples = np.asarray(samples)
    if samples.dtype != np.int16:
        samples = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    pcm = samples.astype("<i2").tobytes()
    header_rate = rate if claimed_rate is None else claimed_rate
    return (b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, header_rate, header_rate * channels * 2,
                                    channels * 2, 16)
            + b"data" + struct.pack("<I", len(pcm)) + pcm)


def split(samples: np.ndarray, rate: int, chunk_s: float = CHUNK_S) -> list[np.ndarray]:
    """``samples`` cut into pieces of ``chunk_s`` seconds, as the browser's recorder cuts them."""
    step = max(1, int(round(rate * chunk_s)))
    return [samples[i:i + step] for i in range(0, len(samples), step)]


def speech_chunks(path: Path, *, rate: int = BROWSER_RATE, lead_s: float = 0.5, tail_s: float = 1.0,
                  stereo: str | None = None) -> list[bytes]:
    """A spoken recording as a browser streams it: resampled to ``rate``, with ``lead_s`` of silence
    before (the time to start speaking) and ``tail_s`` after (the time to reach Stop), in WAV chunks.
    ``stereo="antiphase"``: two channels, the right one the left one upside down (a microphone whose
    channels cancel out when averaged)."""
    import soundfile
    import soxr

    samples, source_rate = soundfile.read(path, dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    if source_rate != rate:
        mono = soxr.resample(mono, source_rate, rate).astype(np.float32)
    mono = np.concatenate([np.zeros(int(lead_s * rate), np.float32), mono, np.zeros(int(tail_s * rate), np.float32)])
    if stereo == "antiphase":
        audio = np.stack([mono, -mono], axis=1)
    elif stereo is None:
        audio = mono
    else:
        raise ValueError(f"unknown stereo layout {stereo!r}")
    return [wav_chunk(piece, rate) for piece in split(audio, rate)]


def quiet_noise(seconds: float, rate: int = BROWSER_RATE, level: float = 0.003, seed: int = 0) -> np.ndarray:
    """Room noise: not silence (above the app's silence threshold), not speech."""
    return (np.random.default_rng(seed).standard_normal(int(seconds * rate)) * level).astype(np.float32)


# ---- the microphone ----

@dataclass
class Event:
    """What the server said about one queued event of a visit."""

    event_id: str
    joined_at: float  # time.monotonic() when the join was answered
    messages: list[dict] = field(default_factory=list)
    first_update_at: float | None = None  # the first process_streaming/process_generating with data
    completed: dict | None = None  # the process_completed message
    completed_at: float | None = None

    @property
    def updates(self) -> list[dict]:
        return [m for m in self.messages if m.get("msg") in ("process_streaming", "process_generating")]

    @property
    def error(self) -> str | None:
        """The message a person is shown when the event failed (None if it succeeded or is running)."""
        if self.completed is None or self.completed.get("success"):
            return None
        output = self.completed.get("output") or {}
        return output.get("error") or ""

    @property
    def heard(self) -> str:
        """The "You asked" line this event drew (its HTML), or "" (whichever output it is)."""
        return next((value for value in self.data or () if isinstance(value, str) and "heard-line" in value), "")

    @property
    def data(self) -> list | None:
        """The final outputs of a successful event."""
        if self.completed is None or not self.completed.get("success"):
            return None
        return (self.completed.get("output") or {}).get("data")


class Refused(Exception):
    """The server turned a request away: ``status`` and its ``detail``."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"{status}: {detail}")
        self.status, self.detail = status, detail


class Microphone:
    """One visit's streaming microphone. ``address``: the client address the app sees (sent as
    ``X-Forwarded-For``, which uvicorn trusts from 127.0.0.1), so one test can be many people."""

    def __init__(self, server_url: str, address: str | None = None, *, timeout_s: float = TIMEOUT_S,
                 pace_s: float = CHUNK_S):
        self.url = server_url.rstrip("/") + "/"
        self.session_hash = uuid.uuid4().hex[:11]  # the page's own ids are 11 characters
        self.pace_s = pace_s
        headers = {"X-Forwarded-For": address} if address else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)
        self.timeout_s = timeout_s
        self.events: dict[str, Event] = {}
        self.stream_event: str | None = None
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self._reader: threading.Thread | None = None
        self._response: httpx.Response | None = None
        self._last_sent = 0.0
        self._config = server_config(self.url, self.http)

    # -- the visit's events --

    def start(self, first_chunk: bytes, name: str = "audio.wav") -> Event:
        """Record: the first chunk joins the microphone's stream event. Raises ``Refused``."""
        fn_index, trigger = self._config["stream"]
        event = self._join(fn_index, [self.upload(first_chunk, name), *self._config["stream_rest"]], trigger)
        self.stream_event = event.event_id
        self._last_sent = time.monotonic()
        return event

    def send(self, chunk: bytes, *, wait: bool = True, name: str = "audio.wav") -> httpx.Response:
        """One more chunk, at the pace of speech; ``wait``: then wait (bounded) until the server answered it."""
        assert self.stream_event is not None, "start() first"
        event = self.events[self.stream_event]
        answered = len(event.updates)
        time.sleep(max(0.0, self._last_sent + self.pace_s - time.monotonic()))
        fn_index, trigger = self._config["stream"]
        response = self.http.post(f"gradio_api/stream/{self.stream_event}", json={
            "data": [self.upload(chunk, name), *self._config["stream_rest"]], "fn_index": fn_index, "event_data": None,
            "session_hash": self.session_hash})
        self._last_sent = time.monotonic()
        if wait and response.status_code == 200 and event.completed is None:
            self.wait_for(lambda: len(event.updates) > answered or event.completed is not None, self.timeout_s)
        return response

    def stream(self, chunks: list[bytes]) -> Event:
        """``start`` with the first chunk, ``send`` the rest; the stream event."""
        event = self.start(chunks[0])
        self.wait_first_update(event, self.timeout_s)
        for chunk in chunks[1:]:
            if event.completed is not None:
                break
            self.send(chunk)
        return event

    def stop(self, *, close_stream: bool = True) -> Event:
        """Stop, as the page sends it: close the stream, then the question as heard joins the queue.
        ``close_stream=False``: the close request is lost (or slower than the question's hearing)."""
        if close_stream and self.stream_event is not None:
            self.http.post(f"gradio_api/stream/{self.stream_event}/close", json={})
        fn_index, trigger = self._config["stop"]
        return self._join(fn_index, [None], trigger)

    def vanish(self) -> None:
        """The page is closed: the event-stream connection drops, nothing more is sent."""
        self.close()

    def close(self) -> None:
        self._closed.set()
        response = self._response
        if response is not None:
            try:
                response.close()
            except Exception:  # noqa: BLE001 - the reader may be closing it at the same moment
                pass
        if self._reader is not None:
            self._reader.join(timeout=5)
        self.http.close()

    # -- waiting --

    def wait_for(self, condition, timeout_s: float) -> bool:
        with self._changed:
            return self._changed.wait_for(condition, timeout=timeout_s)

    def wait_first_update(self, event: Event, timeout_s: float) -> bool:
        """Until the server answered the event once (or ended it); False after ``timeout_s``."""
        return self.wait_for(lambda: event.first_update_at is not None or event.completed is not None, timeout_s)

    def wait_completed(self, event: Event, timeout_s: float) -> bool:
        return self.wait_for(lambda: event.completed is not None, timeout_s)

    def all_text(self) -> str:
        """Everything the server sent this visit, as text (to look for words it heard)."""
        with self._changed:
            return json.dumps([m for e in self.events.values() for m in e.messages])

    # -- HTTP --

    def upload(self, content: bytes, name: str = "audio.wav") -> dict:
        """One chunk uploaded as the page uploads it: its ``FileData``."""
        response = self.http.post("gradio_api/upload", params={"upload_id": uuid.uuid4().hex[:11]},
                                  files=[("files", (name, content, "audio/wav"))])
        if response.status_code != 200:
            raise Refused(response.status_code, response.text)
        path = response.json()[0]
        return {"path": path, "url": f"{self.url}gradio_api/file={path}", "orig_name": name, "size": len(content),
                "mime_type": "audio/wav", "is_stream": False, "meta": {"_type": "gradio.FileData"}}

    def _join(self, fn_index: int, data: list, trigger_id: int) -> Event:
        response = self.http.post("gradio_api/queue/join", json={
            "data": data, "event_data": None, "fn_index": fn_index, "trigger_id": trigger_id,
            "session_hash": self.session_hash})
        if response.status_code != 200:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise Refused(response.status_code, str(detail))
        event = Event(response.json()["event_id"], time.monotonic())
        with self._changed:
            self.events[event.event_id] = event
            self._changed.notify_all()
        if self._reader is None:
            self._reader = threading.Thread(target=self._read, name=f"microphone-{self.session_hash}", daemon=True)
            self._reader.start()
        return event

    def _pending(self) -> bool:
        return any(e.completed is None for e in self.events.values())

    def _read(self) -> None:
        """Follow the visit's event stream for as long as it has events running; reconnect when the server
        ends it between two events (as the page does). Bounded: at most ten minutes."""
        deadline = time.monotonic() + 600
        while not self._closed.is_set() and time.monotonic() < deadline:
            if not self._pending():
                self._closed.wait(0.05)
                continue
            try:
                with self.http.stream("GET", "gradio_api/queue/data", params={"session_hash": self.session_hash},
                                      timeout=httpx.Timeout(self.timeout_s, read=30)) as response:
                    self._response = response
                    if response.status_code != 200:
                        self._closed.wait(0.1)
                        continue
                    for line in response.iter_lines():
                        if self._closed.is_set():
                            return
                        if line.startswith("data:"):
                            self._record(json.loads(line[5:]))
            except Exception:  # noqa: BLE001 - a dropped connection: reconnect unless closed
                self._closed.wait(0.1)
            finally:
                self._response = None

    def _record(self, message: dict) -> None:
        now = time.monotonic()
        with self._changed:
            event = self.events.get(message.get("event_id") or "")
            if event is not None:
                event.messages.append(message)
                kind = message.get("msg")
                if kind in ("process_streaming", "process_generating") and event.first_update_at is None \
                        and (message.get("output") or {}).get("data") is not None:
                    event.first_update_at = now
                if kind == "process_completed":
                    event.completed, event.completed_at = message, now
            self._changed.notify_all()


def server_config(url: str, http: httpx.Client | None = None) -> dict:
    """The fn indexes the page uses for the microphone: {"stream": (fn, trigger), "stop": (fn, trigger)}
    (``stop``: the ``stop_recording`` event that hears the question, not the one that only runs in the page),
    and ``stream_rest``: what the page sends with each chunk for the stream's other inputs (the visit's
    ``gr.State`` lives on the server, so None; any other input, its value on a fresh page)."""
    config = (http or httpx).get(f"{url}config", timeout=TIMEOUT_S).json()
    microphone = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "question-audio")
    found = {}
    for dependency in config["dependencies"]:
        targets = [tuple(t) for t in dependency["targets"]]
        if not dependency.get("backend_fn"):
            continue
        if (microphone, "stream") in targets:
            found["stream"] = (dependency["id"], microphone)
            values = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
            found["stream_rest"] = [values.get(input_id) for input_id in dependency["inputs"][1:]]
        elif (microphone, "stop_recording") in targets:
            found["stop"] = (dependency["id"], microphone)
    assert {"stream", "stop"} <= set(found), f"the microphone's events were not found: {found}"
    return found


# ---- the app as a measured process ----

class AppProcess:
    """The app served by a child process on 127.0.0.1: ``AppProcess(tmp_path).start()``; ``args`` is what
    follows ``python`` (``["app.py"]``, or ``["-m", "harness.fault_hearing", "hanging"]``)."""

    def __init__(self, directory: Path, args: list[str] | None = None, env: dict | None = None):
        from harness.server import free_port

        self.directory = Path(directory)
        self.args = args or ["app.py"]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = self.directory / "server.log"
        self.env = {**os.environ, "GRADIO_SERVER_PORT": str(self.port), "GRADIO_SERVER_NAME": "127.0.0.1",
                    "GRADIO_TEMP_DIR": str(self.directory / "cache"), "GRADIO_ANALYTICS_ENABLED": "False",
                    "PYTHONUNBUFFERED": "1", "ORACLE_THREAD_CENSUS": str(self.directory / "threads.json"),
                    **(env or {})}
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout_s: float = 180) -> "AppProcess":
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen([sys.executable, *self.args], cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"the app exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the app did not start within {timeout_s} s:\n{self.log()[-3000:]}")
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)

    # -- its log --

    def log(self, since: int = 0) -> str:
        with self.log_path.open("rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", "replace")

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    # -- what it costs --

    def _status(self) -> dict[str, str]:
        lines = Path(f"/proc/{self.pid}/status").read_text().splitlines()
        return dict(line.split(":", 1) for line in lines if ":" in line)

    def rss_mb(self) -> float:
        return int(self._status()["VmRSS"].split()[0]) / 1024

    def peak_mb(self) -> float:
        """The most resident memory since start, or since the last ``reset_peak()``."""
        return int(self._status()["VmHWM"].split()[0]) / 1024

    def reset_peak(self) -> None:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS

    def threads(self) -> int:
        return int(self._status()["Threads"])

    def thread_census(self, timeout_s: float = 30):
        """Its threads, counted by the app itself (``harness.thread_census``, which it must run)."""
        from harness.thread_census import CENSUS_SIGNAL, ThreadCensus

        assert "harness.thread_census" in self.args, "the app answers a census only under harness.thread_census"
        target = Path(self.env["ORACLE_THREAD_CENSUS"])
        target.unlink(missing_ok=True)
        self.process.send_signal(CENSUS_SIGNAL)
        deadline = time.monotonic() + timeout_s
        while not target.exists():
            assert time.monotonic() < deadline, f"no thread census within {timeout_s} s"
            time.sleep(0.05)
        return ThreadCensus(json.loads(target.read_text()))

    def cpu_s(self) -> float:
        """CPU time used so far: the process's own, and that of the children it waited for (ffmpeg)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # After the name: state is field 3, so utime/stime/cutime/cstime (14-17) are [11:15].
        ticks = sum(int(value) for value in fields[11:15])
        return ticks / os.sysconf("SC_CLK_TCK")

    def cpu_share(self, over_s: float = 2.0) -> float:
        """The share of one core used over the next ``over_s`` seconds."""
        before, start = self.cpu_s(), time.monotonic()
        time.sleep(over_s)
        return (self.cpu_s() - before) / (time.monotonic() - start)

    # -- its end --

    def terminate(self, timeout_s: float) -> tuple[int | None, float]:
        """SIGTERM; (exit code or None if still running after ``timeout_s``, seconds it took)."""
        assert self.process is not None
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            code = None
        return code, time.monotonic() - sent

    def stop(self) -> None:
        """Make sure it is gone: SIGUSR1 first (frees a hanging engine: ``harness.fault_hearing``), SIGTERM,
        then SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return
        if "harness.fault_hearing" in self.args:  # app.py itself would die of SIGUSR1
            try:
                self.process.send_signal(signal.SIGUSR1)
            except ProcessLookupError:
                return
        code, _ = self.terminate(15)
        if code is None:
            self.process.kill()
            self.process.wait(timeout=30)


def address(n: int) -> str:
    """The ``n``-th stranger's address (10.x.y.z), for ``Microphone(address=...)``."""
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
