"""Every place the app reaches past Gradio's public API, in one module.

Gradio 6.17.3 is pinned in requirements.txt, and everything here was written against it: private
attributes, internal helpers, and the shapes of values Gradio passes between its own layers. On any
other version ``check_gradio_version()`` logs one warning at start-up, and
``tests/test_gradio_internals.py`` fails, naming each internal that moved: read this module against the
new Gradio before raising the pin.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import re
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Mapping

import gradio as gr
import numpy as np

from oracle.audio import wav_bytes

TESTED_GRADIO_VERSION = "6.17.3"

log = logging.getLogger(__name__)


def check_gradio_version() -> bool:
    """True on the Gradio this module was written for; otherwise one warning in the log."""
    if gr.__version__ == TESTED_GRADIO_VERSION:
        return True
    log.warning("Gradio %s is installed; oracle.web.gradio_internals was written for %s: run "
                "tests/test_gradio_internals.py before trusting this server", gr.__version__, TESTED_GRADIO_VERSION)
    return False


# ---- the look: theme and CSS come with every launch() ----

def dark_only(theme: gr.themes.Base) -> gr.themes.Base:
    """The theme's dark values, used in light mode too. Gradio has no "always dark" switch, and a theme keeps
    each light value in an attribute named like its ``*_dark`` twin."""
    for name, value in list(vars(theme).items()):
        if name.endswith("_dark") and not name.startswith("_") and value is not None:
            setattr(theme, name[:-5], value)
    return theme


class BlocksWithLook(gr.Blocks):
    """``gr.Blocks`` that brings its own theme and CSS (``look``: ``launch()`` arguments) to every
    ``launch()``: Gradio 6 takes them there, and this app is launched by ``main()``, the tests and the Space."""

    def __init__(self, look: dict, **kwargs):
        super().__init__(**kwargs)
        self.look = look

    def launch(self, *args, **kwargs):
        for name, value in self.look.items():
            kwargs.setdefault(name, value)
        return super().launch(*args, **kwargs)


# ---- components ----

def examples_loaded(examples: gr.Examples):
    """The event an ``gr.Examples`` fires once a clicked example is in its input components, so that
    clicking an example can ask at once (Gradio has no public name for it)."""
    return examples.load_input_event


def after_drawn_js(selector: str) -> str:
    """JS statements for an async event handler: wait (at most ~10 s) until the element at ``selector`` shows a
    value. Gradio 6.17 runs a load event's browser-side handler before it has drawn the components with their
    first props, and then draws them with those props: an update sent earlier is lost."""
    return (f"for (let frame = 0; frame < 600 && !document.querySelector({selector!r})?.value; frame++)"
            " await new Promise((done) => requestAnimationFrame(done));")


# ---- Gradio's own words in the browser ----

FRONTEND_ASSETS = Path(gr.__file__).parent / "templates" / "frontend" / "assets"


def _frontend_i18n_chunk() -> tuple[str, str] | None:
    """The frontend's translation module (its file name) and the name it exports its locale setter under
    (``function cu(e){se.set(e)}`` … ``export{…cu as Q…}`` in 6.17.3); None if it cannot be found."""
    for path in sorted(FRONTEND_ASSETS.glob("i18n-*.js")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if "custom_translations" not in text:
            continue
        setters = re.findall(r"function ([\w$]+)\((\w)\)\{([\w$]+)\.set\(\2\)\}", text)
        exported = [alias for name, _arg, _store in setters
                    for alias in re.findall(rf"[{{,]{re.escape(name)} as ([\w$]+)[,}}]", text)]
        if len(exported) == 1:
            return path.name, exported[0]
    return None


def frontend_locales() -> set[str]:
    """The languages Gradio's frontend translates its own words into (``./lang/<code>.json``). A browser in any
    other language gets English from Gradio: its own words, and the app's ``gr.I18n`` labels too."""
    found = _frontend_i18n_chunk()
    if found is None:
        return set()
    return set(re.findall(r"\./lang/([\w-]+)\.json", (FRONTEND_ASSETS / found[0]).read_text(encoding="utf-8")))


def frontend_locale_setter_js() -> str | None:
    """A JS expression: an async function of a locale code that switches Gradio's frontend to it (its own
    words, and the ``gr.I18n`` labels, from the translations ``launch(i18n=...)`` brought for that code). For
    a browser language Gradio does not know, which it shows in English. None when the setter is not found
    (on a Gradio other than 6.17.3): such a browser then sees English labels."""
    found = _frontend_i18n_chunk()
    if found is None:
        log.warning("Gradio's frontend locale setter was not found: browsers in a language Gradio does not "
                    "translate (Italian) will see the page's labels in English")
        return None
    chunk, setter = found
    return ("(async (locale) => { const index = document.querySelector('script[type=\"module\"][src*=\"assets/index-\"]');"
            f" if (index) (await import(new URL('./{chunk}', index.src).href))[{setter!r}](locale); }})")


def frontend_locale_head(locales: list[str]) -> str:
    """``launch(head=...)``: a script that switches Gradio's frontend to the browser's language when it is one
    of ``locales`` (languages the frontend does not translate itself, whose words ``launch(i18n=...)``
    brings), as early as it can: Gradio adds it to the page before it draws the components, and its audio
    recorder takes its words (Record, Stop) once, when drawn. Empty when the setter is not found."""
    setter = frontend_locale_setter_js()
    if setter is None or not locales:
        return ""
    return ('<script type="module">const code = (navigator.language || "").slice(0, 2).toLowerCase();'
            f" if ({json.dumps(locales)}.includes(code)) {setter}(code);</script>")


def flat_frontend_words(words: dict, prefix: str = "") -> dict[str, str]:
    """Gradio-shaped translations (``{"audio": {"record": …}}``) as the dotted keys ``gr.I18n`` takes."""
    flat = {}
    for key, value in words.items():
        if isinstance(value, dict):
            flat.update(flat_frontend_words(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def audio_config(component: gr.Audio) -> dict:
    """A subclass of ``gr.Audio`` configured as ``gr.Audio`` itself: Gradio builds a component's config from
    its class's ``__init__`` signature, which a subclass taking ``**kwargs`` would leave nearly empty (no
    label, autoplay or waveform options: the browser's player then fails to start)."""
    return gr.Audio.get_config(component, gr.Audio)


def aac_stream_segment(aac: bytes, duration_s: float, output_id: str) -> tuple[dict, dict]:
    """What a streaming output's ``stream_output`` returns for one AAC segment: the segment, and the
    playlist file the browser follows (as ``gr.Audio`` does)."""
    playlist = {"path": output_id, "is_stream": True, "orig_name": "audio-stream.mp3",
                "meta": {"_type": "gradio.FileData"}}
    return {"data": aac, "duration": duration_s, "extension": ".aac"}, playlist


def save_wav_to_cache(samples: np.ndarray, sample_rate: int, name: str) -> str:
    """Int16 samples as a WAV file in Gradio's upload cache (which ``delete_cache`` sweeps); its path.
    ``name`` must not come from a user."""
    from gradio.processing_utils import save_bytes_to_cache
    from gradio.utils import get_upload_folder

    return save_bytes_to_cache(wav_bytes(samples, sample_rate), name, get_upload_folder())


def refuse_urls_as_audio(demo: gr.Blocks, refusal: str | Callable[[], Exception]) -> None:
    """Accept only recordings uploaded to this server, never a URL named in a request.

    Gradio downloads any public URL that a request names as a file (``{"path": "https://..."}``, or
    ``handle_file(url)`` in gradio_client), with no size limit: a stranger's string would become a URL the
    server reads. Every ``gr.Audio`` of ``demo`` refuses them instead: with ``refusal()``, raised while Gradio
    reads the request's inputs (``refuse_unreadable_inputs`` tells it in the request's words), or with a
    ``gr.Error`` saying ``refusal`` when it is text.
    """
    from gradio_client.utils import is_http_url_like

    for block in demo.blocks.values():
        if not isinstance(block, gr.Audio):
            continue
        move = block.async_move_resource_to_block_cache
        if getattr(move, "uploads_only", False):
            continue

        async def uploads_only(url_or_file_path, _move=move):
            if url_or_file_path is not None and is_http_url_like(str(url_or_file_path)):
                raise gr.Error(refusal, print_exception=False) if isinstance(refusal, str) else refusal()
            return await _move(url_or_file_path)

        uploads_only.uploads_only = True
        block.async_move_resource_to_block_cache = uploads_only


# ---- what Gradio keeps in memory for every request ----

def forget_finished_requests(demo: gr.Blocks, first_seen: dict, max_age: float, longest_stream_s: float) -> int:
    """Drop what Gradio 6.17 keeps in memory for every request for the life of the server.

    Gradio's ``delete_cache`` sweeps files only; the segments of every streamed answer (held in memory to
    serve the HLS playlist) and the queue's record of every event are never let go: about 35 kB per
    consultation, measured. This drops them once older than ``max_age``: streams that ended (or that are
    older than any answer may speak, ``longest_stream_s``) and records of events no longer queued or
    running. Returns how many entries were dropped. Must run on the server's event loop.
    """
    now, wall_now, dropped = time.monotonic(), time.time(), 0
    for session_hash in list(demo.pending_streams):
        runs = demo.pending_streams[session_hash]
        for run in list(runs):
            age = now - first_seen.setdefault((session_hash, run), now)
            ended = all(getattr(stream, "ended", True) for stream in runs[run].values())
            if age > max_age and (ended or age > max_age + 2 * longest_stream_s):
                del runs[run]
                first_seen.pop((session_hash, run), None)
                dropped += 1
        if not runs:
            del demo.pending_streams[session_hash]
    queue = demo._queue
    busy = {event._id for group in queue.event_queue_per_concurrency_id.values() for event in group.queue}
    busy |= {event._id for events in queue.active_jobs if events for event in events}
    resettable = getattr(demo.server_app, "iterators_to_reset", set()) if demo.server_app else set()
    for event_id, record in list(queue.event_analytics.items()):
        if event_id not in busy and wall_now - record.get("time", wall_now) > max_age:
            del queue.event_analytics[event_id]
            queue.event_ids_to_events.pop(event_id, None)
            resettable.discard(event_id)
            dropped += 1
    queue.event_count_at_last_cache = min(queue.event_count_at_last_cache, len(queue.event_analytics))
    return dropped


# ---- what the queue enforces ----


# ---- the server's defences (issue 10): the queue, visits, draining, the cache ----

# What the app says to one request, in its words: given the request's function (None when it names none the app
# has), the values it sent (raw; None when not read) and its HTTP headers (None when there are none).
Say = Callable[[Any, "list | None", "Mapping[str, str] | None"], str]
# The same, as the gr.Error to end the request with.
Refuse = Callable[[Any, "list | None", "Mapping[str, str] | None"], gr.Error]


def guard_the_queue(demo: gr.Blocks, *, session_hash: re.Pattern, max_waiting_per_visit: int,
                    max_waiting_per_address: int, max_streams_per_address: int, busy_message: Say,
                    unknown_message: Say) -> None:
    """Every request joining ``demo``'s queue is checked before Gradio keeps anything for it (the messages are
    what ``busy_message`` and ``unknown_message`` say to it).

    Refused with 400 and ``unknown_message``: a session hash (a visit's id) not matching ``session_hash``,
    or a function index ``demo`` does not have (Gradio would make the visit's state, then fail with a 500).
    Refused as "busy" (503, what a full queue answers): one visit with ``max_waiting_per_visit`` requests
    already waiting, or one client address with ``max_waiting_per_address``, so that one client cannot
    fill the queue shared by everyone; and one client address with ``max_streams_per_address`` microphone
    streams open (running or waiting: an open stream holds its slot until it ends), so that one client
    cannot hold every listening slot.
    """
    queue = demo._queue
    if getattr(queue, "guarded", False):
        return
    queue.guarded = True
    push = queue.push

    async def checked_push(body, request, username):
        fn = demo.fns.get(body.fn_index) if isinstance(body.fn_index, int) else None
        data = body.data if isinstance(getattr(body, "data", None), list) else None
        headers = getattr(request, "headers", None)
        # /call/<api_name> (the REST API) has no visit: Gradio gives its request an id of its own.
        if body.session_hash is not None and not (isinstance(body.session_hash, str)
                                                  and session_hash.fullmatch(body.session_hash)):
            return False, unknown_message(None, None, headers), "error"
        if not _is_known_function(demo, body.session_hash, body.fn_index):
            return False, unknown_message(None, None, headers), "error"
        address = _client_address(request)
        waiting = [event for group in queue.event_queue_per_concurrency_id.values() for event in group.queue]
        by_visit = sum(event.session_hash == body.session_hash for event in waiting) if body.session_hash else 0
        by_address = sum(_client_address(event.request) == address for event in waiting)
        if by_visit >= max_waiting_per_visit or by_address >= max_waiting_per_address:
            log.info("refused a request: %d waiting for its visit, %d for its address", by_visit, by_address)
            return False, busy_message(fn, data, headers), "queue_full"
        if demo.fns[body.fn_index].connection == "stream" if body.fn_index in demo.fns else False:
            running = [event for events in queue.active_jobs if events for event in events]
            streams = sum(event.streaming and _client_address(event.request) == address for event in waiting + running)
            if streams >= max_streams_per_address:
                log.info("refused a microphone stream: %d open for its address", streams)
                return False, busy_message(fn, data, headers), "queue_full"
        return await push(body, request, username)

    queue.push = checked_push


def _is_known_function(demo: gr.Blocks, session_hash: str, fn_index) -> bool:
    if not isinstance(fn_index, int) or isinstance(fn_index, bool):
        return False
    if fn_index in demo.fns:
        return True
    # Events made by gr.render for this visit live in its own state (only if the visit exists already).
    state = demo.state_holder.session_data.get(session_hash)
    return state is not None and fn_index in state.blocks_config.fns


def _client_address(request) -> str | None:
    client = getattr(request, "client", None)
    return client.host if client else None


def refuse_unreadable_inputs(demo: gr.Blocks, refuse: Callable[[Exception, Any, list], gr.Error]) -> None:
    """A request whose inputs Gradio cannot read (a number for a recording, a file outside the app, too few
    values, a refusal raised while reading them) fails with ``refuse(error, function, inputs)``, and no
    traceback in the log; Gradio would send ``{"error": null}`` and print one. A request that leaves out inputs
    that have a default (the optional ``language``, added after scripts were written) gets those defaults, as
    ``gradio_client`` sends them."""
    preprocess = demo.preprocess_data
    if getattr(preprocess, "readable_inputs_only", False):
        return

    async def readable_inputs_only(block_fn, inputs, state, explicit_call=False):
        missing = block_fn.inputs[len(inputs):] if isinstance(inputs, list) else []
        if missing and all(getattr(block, "value", None) is not None for block in missing):
            inputs = [*inputs, *(block.value for block in missing)]  # optional last inputs (a language)
        try:
            return await preprocess(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except Exception as error:  # noqa: BLE001 - every shape of unreadable input is the same to a user
            log.warning("refused unreadable inputs for %s: %s", block_fn.name, type(error).__name__)
            raise refuse(error, block_fn, inputs if isinstance(inputs, list) else []) from None

    readable_inputs_only.readable_inputs_only = True
    demo.preprocess_data = readable_inputs_only


def name_every_error(message: str) -> None:
    """An error a request ends with always says something: Gradio (``show_error=False``) sends
    ``{"error": null}`` for any exception that is not a ``gr.Error``; this sends ``message`` instead (the
    exception's own text still never reaches a user)."""
    import gradio.queueing

    payload = gradio.queueing.error_payload
    if getattr(payload, "names_every_error", False):
        return

    def named(error, show_error):
        content = payload(error, show_error)
        if content.get("error") is None:
            content.update(error=message, visible=True, title="Error")
        return content

    named.names_every_error = True
    gradio.queueing.error_payload = named


def forget_idle_visits(demo: gr.Blocks, max_idle_s: float) -> int:
    """Forget the state (history, rendered components) of visits idle for longer than ``max_idle_s``
    and not waiting or running; how many. Gradio keeps up to ``state_session_capacity`` visits, idle or
    not, about 100 kB each. Must run on the server's event loop."""
    holder = demo.state_holder
    queue = demo._queue
    busy = {event.session_hash for group in queue.event_queue_per_concurrency_id.values() for event in group.queue}
    busy |= {event.session_hash for events in queue.active_jobs if events for event in events}
    oldest = datetime.datetime.now() - datetime.timedelta(seconds=max_idle_s)
    forgotten = 0
    with holder.lock:
        for session_hash in list(holder.session_data):
            last_used = holder.time_last_used.get(session_hash)
            if session_hash not in busy and (last_used is None or last_used < oldest):
                del holder.session_data[session_hash]
                holder.time_last_used.pop(session_hash, None)
                forgotten += 1
    return forgotten


def files_kept_in_cache(demo: gr.Blocks) -> set[Path]:
    """Files Gradio keeps in its cache for the life of the app: the examples (a ``gr.Dataset`` keeps
    them on its own copies of the input components)."""
    kept = set()
    for block in demo.blocks.values():
        for component in [block, *getattr(block, "_components", ())]:
            kept.update(Path(path) for path in getattr(component, "keep_in_cache", ()))
    return kept


def keep_for_good(demo: gr.Blocks, paths: set[Path]) -> None:
    """Have Gradio's own cache sweep (``delete_cache``) leave ``paths`` alone for the life of the app, as
    it does the files a component marks ``keep_in_cache``. Gradio does not mark the examples it copies
    into the cache: it deletes them once older than the cache age, and clicking an example fails after."""
    for block in demo.blocks.values():
        if isinstance(getattr(block, "keep_in_cache", None), set):
            block.keep_in_cache.update(str(path) for path in paths)
            block.keep_in_cache.update(str(path.resolve()) for path in paths)
            return


def cache_dir() -> Path:
    """Gradio's file cache: uploads, the examples, files the app saves (``GRADIO_TEMP_DIR``)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


def work_in_progress(demo: gr.Blocks) -> tuple[int, int]:
    """(waiting, running) requests in the queue."""
    queue = demo._queue
    waiting = sum(len(group.queue) for group in queue.event_queue_per_concurrency_id.values())
    running = sum(len(events) for events in queue.active_jobs if events)
    return waiting, running


def _refusal_for(event, refuse: Refuse) -> gr.Error:
    """What ``refuse`` says to the request of a queued ``event``."""
    data = event.data.data if event.data is not None and isinstance(event.data.data, list) else None
    return refuse(event.fn, data, getattr(event.request, "headers", None))


async def refuse_waiting_requests(demo: gr.Blocks, refuse: Refuse) -> int:
    """Every request still waiting in the queue ends now with what ``refuse`` says to it as its error; how
    many."""
    from gradio.server_messages import ProcessCompletedMessage

    queue = demo._queue
    ended = 0
    async with queue.delete_lock:
        for group in queue.event_queue_per_concurrency_id.values():
            for event in list(group.queue):
                group.queue.remove(event)
                error = _refusal_for(event, refuse)
                queue.send_message(event, ProcessCompletedMessage(
                    output={"error": error.message, "visible": True, "title": error.title}, success=False,
                    title=error.title))
                ended += 1
    return ended


class SilentStreams:
    """Ends microphone streams whose browser went silent: no chunk for ``idle_s`` (the tab closed, the network
    dropped). Gradio 6.17 keeps such a stream, and its slot in the queue, until its ``time_limit``: a crowd
    that leaves would hold every slot for that long. Each stream's last chunk is known by the identity of the
    body Gradio keeps for it (every chunk replaces it). ``end(demo)`` must run on the server's event loop."""

    def __init__(self, idle_s: float):
        self.idle_s = idle_s
        self._seen: dict[str, tuple[int, float]] = {}  # event id -> (id of its last body, when first seen)

    def end(self, demo: gr.Blocks) -> int:
        now, ended, running = time.monotonic(), 0, set()
        for events in list(demo._queue.active_jobs):
            for event in events or ():
                if not is_open_stream(event):
                    continue
                running.add(event._id)
                body, since = self._seen.get(event._id, (None, now))
                if body != id(event.data) or has_unread_chunks(event):
                    self._seen[event._id] = (id(event.data), now)
                elif now - since > self.idle_s:
                    close_microphone_stream(event)
                    ended += 1
        self._seen = {event_id: seen for event_id, seen in self._seen.items() if event_id in running}
        return ended


def end_microphone_streams(demo: gr.Blocks) -> int:
    """End every open microphone stream (a streaming-input event) as its browser's close request would; how
    many. Gradio keeps one open until its ``time_limit`` otherwise. Must run on the server's event loop."""
    ended = 0
    for events in list(demo._queue.active_jobs):
        for event in events or ():
            if is_open_stream(event):
                close_microphone_stream(event)
                ended += 1
    return ended


STREAM_ROUTE = re.compile(r"/gradio_api/stream/([0-9a-f]{1,64})(/close)?")


def is_open_microphone_stream(demo: gr.Blocks, event_id: str) -> bool:
    """``event_id`` names a microphone stream this server is running (Gradio's ``/stream/{event_id}`` routes
    answer any other id with a 500 and a traceback)."""
    event = demo._queue.event_ids_to_events.get(event_id)
    return event is not None and event.streaming


def has_messages_for(demo: gr.Blocks, session_hash: str) -> bool:
    """The queue has (or will have) messages for this visit: Gradio 6.17's ``/queue/data`` for any other
    visit starts its event stream, then fails inside it (a broken reply and a traceback in the log)."""
    return session_hash in demo._queue.pending_messages_per_session


class ChunksInOrder(asyncio.Event):
    """A microphone stream's ``signal`` under which no chunk is lost, and none is heard twice.

    Gradio 6.17's ``/stream/{event_id}`` route sets ``event.data`` to the new chunk, then ``signal.set()``;
    the stream's loop wakes, clears the signal, reads ``event.data``, runs the function, and waits again.
    A chunk arriving before the last one was read replaces it: a browser sends a chunk every
    ``stream_every`` seconds without waiting for answers, so on a busy machine, where they bunch up, a
    question lost audio in its middle (measured in Chromium: 0.5-0.75 s of 8 s with the CPU busy). Here such
    a chunk waits in line (at most ``max_waiting``: past that the oldest waiting is dropped) and is handed
    over when the loop waits again.

    Closing (``close_microphone_stream``) is carried out once every chunk received is taken, and hands the
    loop a chunk-less body for its last turn, as does any wake-up that brings no chunk (Gradio's, when the
    page is closed): Gradio wakes the loop with the last chunk again, which heard a word twice at Stop."""

    def __init__(self, event, max_waiting: int):
        super().__init__()
        self._event = event
        self._max_waiting = max_waiting
        self._current = event.data  # the last chunk handed to the loop
        self._busy = True  # the loop takes the first chunk without waiting
        self._waiting: deque = deque()
        self._closing = False

    @property
    def has_unread(self) -> bool:
        return self.is_set() or bool(self._waiting)

    @property
    def closing(self) -> bool:
        return self._closing

    def set(self) -> None:
        body = self._event.data
        if body is self._current:  # a wake-up that brings no chunk: the visit's page was closed
            self._hand_over(self._chunkless())
            return
        if self._busy or self.is_set():  # the loop has not read the last chunk yet: this one waits its turn
            self._event.data = self._current
            if len(self._waiting) == self._max_waiting:
                self._waiting.popleft()
                log.warning("a microphone stream is %d chunks behind: its oldest waiting chunk was dropped",
                            self._max_waiting)
            self._waiting.append(body)
            return
        self._current = body
        super().set()

    def clear(self) -> None:
        super().clear()
        self._busy = True  # the loop woke: it reads event.data next

    async def wait(self):
        self._busy = False
        if self._waiting:
            self._hand_over(self._waiting.popleft())
        elif self._closing and not self._event.closed:
            self._finish()
        return await super().wait()

    def close(self) -> None:
        self._closing = True
        if not self._busy and not self._waiting and not self.is_set():
            self._finish()

    def _hand_over(self, body) -> None:
        self._current = self._event.data = body
        super().set()

    def _finish(self) -> None:
        import math

        self._event.run_time, self._event.closed = math.inf, True
        self._hand_over(self._chunkless())

    def _chunkless(self):
        """The last body with no chunk in it, for the stream's last turn."""
        body = self._current
        return body.model_copy(update={"data": [None, *body.data[1:]]}) if body is not None and body.data else body


def take_every_chunk(demo: gr.Blocks, max_waiting: int) -> None:
    """Every microphone stream ``demo``'s queue takes gets ``ChunksInOrder`` as its signal (installed as the
    stream joins the queue, before its loop first waits on it)."""
    queue = demo._queue
    if getattr(queue, "takes_every_chunk", False):
        return
    queue.takes_every_chunk = True
    push = queue.push

    async def push_taking_every_chunk(body, request, username):
        taken, event_id, *rest = await push(body, request, username)
        event = queue.event_ids_to_events.get(event_id) if taken else None
        if event is not None and event.streaming and not isinstance(event.signal, ChunksInOrder):
            event.signal = ChunksInOrder(event, max_waiting)
        return (taken, event_id, *rest)

    queue.push = push_taking_every_chunk


def has_unread_chunks(event) -> bool:
    signal = event.signal
    return signal.has_unread if isinstance(signal, ChunksInOrder) else signal.is_set()


def is_open_stream(event) -> bool:
    """``event`` is a microphone stream nothing has closed yet."""
    closing = isinstance(event.signal, ChunksInOrder) and event.signal.closing
    return event.streaming and not event.closed and not closing


def close_microphone_stream(event) -> None:
    """End a microphone stream as its browser's Stop does, once the chunks it sent are taken."""
    import math

    if isinstance(event.signal, ChunksInOrder):
        event.signal.close()
    else:
        event.run_time, event.closed = math.inf, True
        event.signal.set()


def close_microphone_stream_by_id(demo: gr.Blocks, event_id: str) -> None:
    """Stop for the stream ``event_id`` (Gradio's ``/stream/{event_id}/close``), if it is one."""
    event = demo._queue.event_ids_to_events.get(event_id)
    if event is not None and event.streaming:
        close_microphone_stream(event)


async def end_running_streams(demo: gr.Blocks, refuse: Refuse) -> int:
    """Every generator still running stops at its next step, closed (its engine stops), and its request
    ends with what ``refuse`` says to it as its error (Gradio then ends its HLS streams); how many.

    Gradio steps a sync generator through a ``SyncToAsyncIterator`` kept for the event (and put back
    after every step, so it cannot be swapped): the generator inside it is."""
    app = demo.server_app
    if app is None:
        return 0
    ended = 0
    events = demo._queue.event_ids_to_events
    async with app.lock:
        for event_id, iterator in list(app.iterators.items()):
            inner = getattr(iterator, "iterator", None)
            if inner is not None and not isinstance(inner, _EndWith):
                event = events.get(event_id)
                error = _refusal_for(event, refuse) if event is not None else refuse(None, None, None)
                iterator.iterator = _EndWith(inner, error)
                ended += 1
    return ended


class _EndWith:
    """A generator's next step: close the real one (in Gradio's worker thread, between steps, so never
    while it runs) and raise a friendly error."""

    def __init__(self, generator, error: gr.Error) -> None:
        self.generator, self.error = generator, error

    def __iter__(self):
        return self

    def __next__(self):
        self.generator.close()
        raise self.error

    def close(self):
        self.generator.close()


# ---- the streaming microphone (oracle/web/page.js) ----

# Gradio 6.17's streaming microphone loads its WAV recorder lazily, after the page, as three modules fetched one
# after another (assets/module-<hash>.js); a Record press before the last has loaded fails inside Gradio
# ("c is not a constructor") and leaves the button stuck. The page's script holds such a press until then, by
# watching the page's resource timings for this many of these files.
STREAMING_RECORDER_MODULES = {"pattern": r"/assets/module-[^/]+\.js", "count": 3}
# Its buttons, by class (their words are translated into the browser's language): Record; Stop while
# recording, paused, or waiting for the server (each of these stops the recording when clicked).
STREAMING_RECORDER_BUTTONS = {"record": "button.record-button",
                              "stop": "button.stop-button, button.stop-button-paused, button.spinner-button"}


# ---- the streamed voice (oracle/web/speech_stream.py) ----

def keep_streamed_values_whole(demo: gr.Blocks) -> None:
    """A generator's later updates leave the value of its streaming outputs (the voice's playlist) as it was,
    so that Gradio 6.17.3's browser client cannot rewrite that value before the page has read it.

    Symptom: the answer's step said "speaking" and its player stayed empty (no ``<audio>`` element, no
    playlist fetched), whenever the stream's updates reached the browser together: a voice prepared at the
    pause (one clause, then the closing update, within milliseconds), or a short typed answer on a slow
    browser. Mechanism: Gradio sends each update of a generator after the first as a diff against the one
    before. An update that leaves out the voice (``gr.skip()``, or a dict without it: the closing update with
    the timings and the history) is, for the voice, a diff from the playlist's ``FileData`` to
    ``{"__type__": "update"}``: delete each key, add ``__type__``. The browser client applies diffs in place
    (``apply_diff`` in ``@gradio/client``'s ``utils/stream.ts``), on the very object it handed the page with
    the first update; when the page reads that first update only after the next has arrived, it finds a
    no-op update, and the player is never given the stream. Here such a left-out streaming output is sent as
    "no new audio" (``None``: no segment, the same playlist), whose diff is empty.

    Also: Gradio keys a generator's streams by ``id()`` of its iterator, which Python reuses. A generator
    placed at the address of one that has finished would add its audio to that one's ended stream (its
    playlist starting with the old answer, and closed); such a stream is let go when the new one starts.
    """
    handle = demo.handle_streaming_outputs
    if getattr(handle, "keeps_streamed_values_whole", False):
        return

    async def handle_keeping_streamed_values_whole(block_fn, data, session_hash=None, run=None, root_path=None,
                                                   final=False):
        if session_hash is not None and run is not None and not final:
            streams = demo.pending_streams[session_hash].get(run, {})
            for i, block in enumerate(block_fn.outputs):
                stream = streams.get(block._id)
                if stream is None or not getattr(block, "streaming", False):
                    continue
                if stream.ended:  # an earlier generator's, at a reused id: this one starts a stream of its own
                    del streams[block._id]
                elif _is_skip(data[i]):
                    data[i] = None
        return await handle(block_fn, data, session_hash=session_hash, run=run, root_path=root_path, final=final)

    handle_keeping_streamed_values_whole.keeps_streamed_values_whole = True
    demo.handle_streaming_outputs = handle_keeping_streamed_values_whole


def _is_skip(value) -> bool:
    """An update that changes nothing (``gr.skip()``; what Gradio puts for an output a dict leaves out)."""
    return isinstance(value, dict) and value == {"__type__": "update"}


# ---- generators that fail after yielding ----

def forget_failed_generators(demo: gr.Blocks) -> None:
    """Drop what Gradio 6.17 keeps of a generator's last outputs when it fails after yielding.

    Gradio diffs each update of a generator against its previous one, kept by visit and ``id()`` of the
    iterator, and lets that record go only when the generator ends normally. One that raises (a failed
    question: its "Reply hazy" look, then ``gr.Error``) leaves it behind, and a later generator of the same
    visit that Python places at the same address inherits it: its updates are then diffed against another
    event's outputs (``IndexError`` in ``handle_streaming_diffs`` when that event had fewer; the page never
    hears its answer). The record goes as soon as its generator fails.
    """
    process_api = demo.process_api
    if getattr(process_api, "forgets_failures", False):
        return

    async def process_api_forgetting_failures(*args, **kwargs):
        try:
            return await process_api(*args, **kwargs)
        except BaseException:
            iterator, session_hash = kwargs.get("iterator"), kwargs.get("session_hash")
            if iterator is not None and session_hash in demo.pending_diff_streams:
                demo.pending_diff_streams[session_hash].pop(id(iterator), None)
            raise

    process_api_forgetting_failures.forgets_failures = True
    demo.process_api = process_api_forgetting_failures
