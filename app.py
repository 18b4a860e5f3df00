"""Magic 8 Ball 🎱 — ask a question aloud and hear a proverb back.

``build_demo(oracle)`` wires the Gradio UI and the API endpoints to the pipeline and does nothing
else; ``main()`` picks the engines from the environment, warms them up and serves on 127.0.0.1:7860.

The page walks through six visible stages — ready, listening, hearing, consulting, speaking, done —
shown twice: as a row of steps (``#status``) and on the ball itself (``#ball``), whose triangle window
holds the answer. Every visit keeps its own history (a ``gr.State``) with each spoken answer
downloadable.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import io
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import spaces  # must come before anything initialises CUDA (ZeroGPU)
import gradio as gr
import numpy as np
import soundfile
from gradio.processing_utils import save_bytes_to_cache
from gradio.utils import get_upload_folder

from oracle.audio import wav_bytes
from oracle.config import Settings
from oracle.errors import OracleError
from oracle.examples import EXAMPLE_QUESTIONS, spoken_examples
from oracle.pipeline import Oracle, Reply
from oracle.speech_stream import SpeechStream

TITLE = "Magic 8 Ball 🎱"

# ---- Limits (see README, "Limits and behaviour") ----
# Uploads above this are refused by Gradio's upload route with HTTP 413 (gradio_client refuses them
# before sending). Ten megabytes hold a minute of 48 kHz 16-bit stereo WAV; only 30 s are heard.
MAX_FILE_SIZE = "10mb"
# Requests waiting (not running) across both steps; one more gets "busy, please try again".
QUEUE_MAX_SIZE = 32
# Hearing and answering ("think", CPU) and speaking ("speak", CPU here, GPU on ZeroGPU) queue
# separately, so a long answer being spoken never holds up the next question being heard.
THINKING_CONCURRENCY = 2
SPEAKING_CONCURRENCY = 2
# The longest a single speaking request may hold a (Zero)GPU; the pipeline stops speaking at its own
# limit (oracle.pipeline.SPEAK_TIME_LIMIT_S) before that.
SPEAK_GPU_SECONDS = 60
# Gradio's cache (uploads, the examples, whole-answer WAVs of /consult and of the history) is swept
# every CACHE_SWEEP_S of files older than CACHE_MAX_AGE_S (a history download lasts that long);
# ORACLE_CACHE_MAX_AGE overrides the age.
CACHE_SWEEP_S = 60
CACHE_MAX_AGE_S = 900
# ---- end of limits ----
# A visit remembers at most this many questions (the oldest are forgotten first).
HISTORY_LIMIT = 20

log = logging.getLogger("oracle.app")


def cache_sweep_settings(max_age: str | None = None) -> tuple[int, int]:
    """(sweep every, delete files older than) in seconds, from ``ORACLE_CACHE_MAX_AGE`` or the default."""
    raw = (max_age if max_age is not None else os.environ.get("ORACLE_CACHE_MAX_AGE", "")).strip()
    age = int(raw) if raw.isdigit() and int(raw) > 0 else CACHE_MAX_AGE_S
    return min(CACHE_SWEEP_S, age), age


def forget_finished_requests(demo: gr.Blocks, first_seen: dict, max_age: float) -> int:
    """Drop what Gradio 6.17 keeps in memory for every request for the life of the server.

    Gradio's ``delete_cache`` sweeps files only; the segments of every streamed answer (held in
    memory to serve the HLS playlist) and the queue's record of every event are never let go: about
    35 kB per consultation, measured. This drops them once older than ``max_age``: streams that
    ended (or that are older than any answer may speak) and records of events no longer queued or
    running. Returns how many entries were dropped. Must run on the server's event loop.
    """
    now, wall_now, dropped = time.monotonic(), time.time(), 0
    for session_hash in list(demo.pending_streams):
        runs = demo.pending_streams[session_hash]
        for run in list(runs):
            age = now - first_seen.setdefault((session_hash, run), now)
            ended = all(getattr(stream, "ended", True) for stream in runs[run].values())
            if age > max_age and (ended or age > max_age + 2 * SPEAK_GPU_SECONDS):
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
                dropped = forget_finished_requests(demo, first_seen, max_age)
                if dropped:
                    log.info("housekeeping: forgot %d finished requests", dropped)
            except Exception:  # never let housekeeping take the server down
                log.exception("housekeeping failed; it will try again")

    task = asyncio.create_task(sweep_forever())
    try:
        yield
    finally:
        task.cancel()


AUDIO_BY_URL_REFUSED = "Please upload the recording itself: links to audio are not accepted."


def refuse_audio_by_url(demo: gr.Blocks) -> None:
    """Accept only recordings uploaded to this server, never a URL named in a request.

    Gradio downloads any public URL that a request names as a file (``{"path": "https://..."}``,
    or ``handle_file(url)`` in gradio_client), with no size limit: a stranger's string would become a
    URL the server reads. Only non-public addresses are refused by Gradio itself.
    """
    from gradio_client.utils import is_http_url_like

    for block in demo.blocks.values():
        if not isinstance(block, gr.Audio):
            continue
        move = block.async_move_resource_to_block_cache

        async def uploads_only(url_or_file_path, _move=move):
            if url_or_file_path is not None and is_http_url_like(str(url_or_file_path)):
                raise gr.Error(AUDIO_BY_URL_REFUSED, print_exception=False)
            return await _move(url_or_file_path)

        block.async_move_resource_to_block_cache = uploads_only


def launch_settings() -> dict:
    """How the server is launched, by main() and the tests alike (a fresh dict: Gradio edits it).

    show_error=False: only the oracle's own friendly messages (gr.Error) reach a user, never an
    exception's text.
    """
    return {"max_file_size": MAX_FILE_SIZE, "show_error": False, "app_kwargs": {"lifespan": housekeeping}}


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


def timings_line(reply: Reply | None, first_audio_ms: float | None, engines: str) -> str:
    if reply is None:
        return ""
    return (f"⏱ hearing {_ms(reply.hear_ms)} · answering {_ms(reply.answer_ms)} · "
            f"first audio {_ms(first_audio_ms)}  \n⚙ {engines}")


# ---- The look: stages, the ball, the steps ----

STAGES = ("ready", "listening", "hearing", "consulting", "speaking", "done")
STAGE_LABELS = {
    "ready": "Ready", "listening": "Listening", "hearing": "Hearing",
    "consulting": "Consulting", "speaking": "Speaking", "done": "Done",
}
STAGE_HINTS = {
    "ready": "Press Record and ask a yes-or-no question out loud, or type one.",
    "listening": "Listening… ask your question, then press Stop.",
    "hearing": "Hearing your question…",
    "consulting": "The oracle consults the mists…",
    "speaking": "The oracle speaks… (press ▶ below if you hear nothing)",
    "done": "The oracle has spoken. Ask another question.",
}
# What the triangle in the ball's window says while there is no answer to show.
DIE_WORDS = {
    "ready": "Ask me",
    "listening": "I'm listening",
    "hearing": "Hearing…",
    "consulting": "Consulting…",
}
HAZY = "Reply hazy, try again"


# The triangle, in units of the ball's width (cqi): 80 % of a window 64 % wide, and 0.866 as tall.
DIE_WIDTH, DIE_HEIGHT = 51.2, 44.3
LINE_HEIGHT = 1.13


def _lines_fit(words: list[str], size: float, top: float, em_width: float) -> float | None:
    """Lay ``words`` out line by line in the narrowing triangle: the height they take, or None if a
    line would spill out of it. Sizes in cqi; a line's width is the triangle's at the line's bottom."""

    def room(line_top: float) -> float:
        return DIE_WIDTH * (1 - (line_top + LINE_HEIGHT * size) / DIE_HEIGHT) - 2.5

    y, line = top, ""
    for word in words:
        if len(f"{line} {word}".strip()) * em_width * size <= room(y):
            line = f"{line} {word}".strip()
        elif line and len(word) * em_width * size <= room(y + LINE_HEIGHT * size):
            y, line = y + LINE_HEIGHT * size, word
        else:
            return None
    return y + LINE_HEIGHT * size - top


def _die_text_style(text: str) -> tuple[str, bool]:
    """A font size (cqi) a little under the largest whose lines all fit in the triangle, and the block
    as near the triangle's centre as it fits. Short answers are in capitals, like a real Magic 8 Ball."""
    capitals = len(text) <= 14
    em_width = 0.85 if capitals else 0.62  # a generous average glyph width, bold (wide fonts too)
    words = text.split() or [""]
    largest = 7.0 / 0.9
    while largest > 2.2 and _lines_fit(words, largest, 1.5, em_width) is None:
        largest -= 0.1
    size = max(2.0, min(7.0, largest * 0.9))
    height = _lines_fit(words, size, 1.5, em_width) or 0.0
    top = max(1.5, DIE_HEIGHT / 3 - height / 2)
    while top > 1.5 and _lines_fit(words, size, top, em_width) is None:
        top -= 0.5
    return f"font-size:{size:.1f}cqi;padding-top:{max(top, 1.5):.1f}cqi", capitals


def ball_html(stage: str, answer: str | None = None, failed: bool = False) -> str:
    """The Magic 8 Ball; its triangle shows the answer, a stage word, or "Reply hazy" after a failure."""
    if failed:
        text = HAZY
    elif answer and stage in ("consulting", "speaking", "done"):
        text = answer
    else:
        text = DIE_WORDS.get(stage, DIE_WORDS["ready"])
    style, capitals = _die_text_style(text)
    classes = f"oracle-ball stage-{stage}" + (" failed" if failed else "") + (" answered" if answer else "")
    label = f"The Magic 8 Ball says: {text}" if answer or failed else "The Magic 8 Ball"
    return (
        f'<div class="{classes}" data-stage="{stage}">'
        f'<div class="ball" role="img" aria-label="{html.escape(label)}">'
        '<div class="window"><div class="die">'
        '<span class="edge left"></span><span class="edge right"></span>'
        f'<p class="die-text{" capitals" if capitals else ""}" style="{style}" id="answer-text">{html.escape(text)}</p>'
        '</div></div></div></div>'
    )


def status_html(stage: str, message: str | None = None, failed: bool = False, typed: bool = False,
                answer: str | None = None) -> str:
    """The six stages as steps, the current one lit. The sentence under them is what screen readers
    announce: the stage, what to do, and the answer once there is one."""
    now = STAGES.index(stage)
    steps = []
    for index, name in enumerate(STAGES):
        if name == stage:
            state = "current"
        elif typed and name in ("listening", "hearing"):
            state = "skipped"
        else:
            state = "past" if index < now else "todo"
        steps.append(f'<li class="step {state}"><span class="dot"></span>'
                     f'<span class="step-label">{STAGE_LABELS[name]}</span></li>')
    hint = message or STAGE_HINTS[stage]
    said = f"The ball says: {answer} " if answer else ""
    return (
        f'<div class="oracle-status stage-{stage}{" failed" if failed else ""}" data-stage="{stage}">'
        f'<ol class="steps" aria-hidden="true">{"".join(steps)}</ol>'
        f'<p class="hint" role="status" aria-live="polite">'
        f'<span class="sr-only">{STAGE_LABELS[stage]}. {html.escape(said)}</span>{html.escape(hint)}</p></div>'
    )


def heard_html(question: str | None) -> str:
    if not question:
        return ""
    return f'<p class="heard-line"><span class="heard-label">You asked:</span> “{html.escape(question)}”</p>'


def history_entry_html(number: int, item: dict) -> str:
    return (f'<div class="history-text"><p class="history-q"><span class="history-n">{number}.</span> '
            f'{html.escape(item["question"])}</p><p class="history-a">🎱 {html.escape(item["answer"])}</p></div>')


HEADER_HTML = (
    '<header class="masthead"><div class="mini-ball" aria-hidden="true"><span>8</span></div>'
    '<div><h1>Magic 8 Ball</h1>'
    '<p>Ask a yes-or-no question out loud, or type it. The ball answers with an old proverb, and says it.</p>'
    '</div></header>'
)


def _dark_only(theme: gr.themes.Base) -> gr.themes.Base:
    """The theme's dark values, used in light mode too: a Magic 8 Ball is black whatever the OS says."""
    for name, value in list(vars(theme).items()):
        if name.endswith("_dark") and not name.startswith("_") and value is not None:
            setattr(theme, name[:-5], value)
    return theme


# Only the dark values are set: ``_dark_only`` then uses them in light mode too. It must run last, because
# ``Theme.set()`` re-assigns some light values from defaults.
# System fonts: nothing to download, and each phone or laptop shows its own familiar face.
SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
                "sans-serif")
THEME = _dark_only(gr.themes.Default(primary_hue="indigo", secondary_hue="violet", neutral_hue="slate",
                                     font=SYSTEM_FONTS).set(
    body_background_fill_dark="radial-gradient(ellipse at top, #1b1d3a 0%, #0a0a14 55%, #050509 100%)",
    background_fill_primary_dark="#10111f",
    background_fill_secondary_dark="#181a30",
    block_background_fill_dark="#14162a",
    block_border_color_dark="#2a2d4d",
    block_label_background_fill_dark="#1d2040",
    block_label_text_color_dark="#c9cdf5",
    input_background_fill_dark="#0d0e1c",
    button_primary_background_fill_dark="linear-gradient(135deg, #4f5bff, #8a3ffc)",
    button_primary_background_fill_hover_dark="linear-gradient(135deg, #6470ff, #9b5bff)",
    button_primary_text_color_dark="#ffffff",
))

CSS = """
.gradio-container { max-width: 1100px !important; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
           clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
:focus-visible { outline: 3px solid #9aa4ff !important; outline-offset: 2px; }

/* header */
.masthead { display: flex; align-items: center; gap: 1rem; padding: .25rem 0 .5rem; }
.masthead h1 { margin: 0; font-size: 2rem; line-height: 1.1; color: #f2f3ff; letter-spacing: .02em; }
.masthead p { margin: .25rem 0 0; color: #b9bde0; font-size: 1.02rem; }
.mini-ball { flex: none; width: 3.2rem; height: 3.2rem; border-radius: 50%; display: grid; place-items: center;
             background: radial-gradient(circle at 32% 28%, #6b6b80 0%, #1c1c26 30%, #000 75%);
             box-shadow: 0 4px 14px rgba(0,0,0,.6); }
.mini-ball span { width: 1.6rem; height: 1.6rem; border-radius: 50%; background: #f4f4f4; color: #000;
                  display: grid; place-items: center; font-weight: 800; font-size: 1.05rem; }

/* the steps */
.oracle-status { text-align: center; }
.oracle-status .steps { display: flex; list-style: none; margin: 0 auto; padding: 0; max-width: 34rem; }
.oracle-status .step { flex: 1; position: relative; display: flex; flex-direction: column; align-items: center;
                       gap: .3rem; color: #7d82a8; font-size: .8rem; margin: 0 !important; padding: 0 !important; }
.oracle-status .step::before { content: ""; position: absolute; top: .42rem; right: 50%; width: 100%; height: 2px;
                               background: #2e3258; z-index: 0; }
.oracle-status .step:first-child::before { display: none; }
.oracle-status .step.past::before, .oracle-status .step.current::before { background: #6d78ff; }
.oracle-status .dot { position: relative; z-index: 1; width: .85rem; height: .85rem; border-radius: 50%;
                      background: #14162a; border: 2px solid #4a4f80; }
.oracle-status .step.past { color: #aab0ff; }
.oracle-status .step.past .dot { background: #6d78ff; border-color: #6d78ff; }
.oracle-status .step.current { color: #ffffff; font-weight: 700; }
.oracle-status .step.current .dot { background: #ffffff; border-color: #ffffff;
                                    box-shadow: 0 0 0 4px rgba(109,120,255,.45); }
.oracle-status.stage-listening .step.current .dot { background: #ff4d6d; border-color: #ff4d6d;
                                                     box-shadow: 0 0 0 4px rgba(255,77,109,.35); }
.oracle-status .step.skipped { opacity: .35; }
.oracle-status .hint { margin: .6rem 0 0; font-size: 1.05rem; color: #e6e8ff; min-height: 1.5em; }
.oracle-status.failed .step.current .dot { background: #ff9f43; border-color: #ff9f43;
                                           box-shadow: 0 0 0 4px rgba(255,159,67,.35); }
.oracle-status.failed .hint { color: #ffc58a; }

/* the ball */
.oracle-ball { display: flex; justify-content: center; padding: .5rem 0 .25rem; }
.oracle-ball .ball { --size: min(360px, 78vw); width: var(--size); max-width: 100%; aspect-ratio: 1; flex: none;
  border-radius: 50%;
  position: relative; display: grid; place-items: center; container-type: inline-size;
  background: radial-gradient(circle at 34% 26%, #5d5d72 0%, #23232f 18%, #0b0b10 48%, #000 72%);
  box-shadow: 0 24px 60px rgba(0,0,0,.75), 0 0 80px rgba(80,90,255,.12),
              inset -22px -30px 50px rgba(0,0,0,.95), inset 8px 10px 30px rgba(255,255,255,.05); }
.oracle-ball .ball::after { content: ""; position: absolute; left: 15%; top: 7%; width: 30%; height: 17%;
  border-radius: 50%; background: radial-gradient(ellipse, rgba(255,255,255,.38), rgba(255,255,255,0) 70%);
  transform: rotate(-28deg); pointer-events: none; }
.oracle-ball .window { position: relative; width: 64%; height: 64%; border-radius: 50%; overflow: hidden;
  background: radial-gradient(circle at 50% 42%, #16226a 0%, #0a1140 55%, #02030f 100%);
  box-shadow: inset 0 0 24px #000, 0 0 0 5px #111118, 0 0 0 8px #2b2b3a; transition: box-shadow .4s; }
/* An equilateral triangle, point down, its centre on the window's centre: it fits inside the circle. */
.oracle-ball .die { position: absolute; left: 10%; top: 26.9%; width: 80%; height: 69.3%; box-sizing: border-box;
  transition: opacity .5s, transform .5s; }
.oracle-ball .die::before { content: ""; position: absolute; inset: 0; clip-path: polygon(0 0, 100% 0, 50% 100%);
  background: linear-gradient(180deg, #3550e6 0%, #2638b8 60%, #1b288c 100%); }
/* Two floats shaped like the triangle's flanks: the answer's lines get shorter as the triangle narrows. */
.oracle-ball .edge { display: block; width: 50%; height: 100%; }
.oracle-ball .edge.left { float: left; shape-outside: polygon(0 0, 100% 100%, 0 100%); }
.oracle-ball .edge.right { float: right; shape-outside: polygon(100% 0, 100% 100%, 0 100%); }
.oracle-ball .die-text { position: relative; margin: 0 !important; padding: 6% 1.25cqi 0; text-align: center;
  color: #eef1ff;
  font-weight: 700; line-height: 1.13; text-shadow: 0 0 6px rgba(160,180,255,.55); }
.oracle-ball .die-text.capitals { text-transform: uppercase; letter-spacing: .04em; }
.oracle-ball.stage-ready .die, .oracle-ball.stage-listening .die { opacity: .8; }

/* stages on the ball: gentle motion while the oracle thinks */
.oracle-ball.stage-listening .window { animation: listen 1.6s ease-in-out infinite; }
.oracle-ball.stage-hearing .die, .oracle-ball.stage-consulting:not(.answered) .die {
  animation: tumble 2.4s ease-in-out infinite; }
.oracle-ball.stage-consulting:not(.answered) .ball, .oracle-ball.stage-hearing .ball {
  animation: wobble 2.4s ease-in-out infinite; }
.oracle-ball.answered .die { animation: surface .9s ease-out both; }
.oracle-ball.stage-speaking .window { animation: glow 1.8s ease-in-out infinite; }
.oracle-ball.stage-done .window { box-shadow: inset 0 0 24px #000, 0 0 0 5px #111118, 0 0 0 8px #2b2b3a,
                                              0 0 28px rgba(90,110,255,.35); }
.oracle-ball.failed .ball, .oracle-ball.failed .die { animation: none !important; opacity: 1 !important; }
.oracle-ball.failed .die::before { background: linear-gradient(180deg, #5a4bb0 0%, #3b2f87 100%); }
@keyframes tumble { 0%, 100% { opacity: .85; transform: rotate(0deg) scale(1); filter: blur(0); }
                    50% { opacity: .25; transform: rotate(14deg) scale(.82); filter: blur(2px); } }
@keyframes wobble { 0%, 100% { transform: rotate(0deg); } 25% { transform: rotate(-3deg) translateX(-2px); }
                    75% { transform: rotate(3deg) translateX(2px); } }
@keyframes surface { from { opacity: 0; transform: scale(.7) rotate(-8deg); filter: blur(3px); }
                     to { opacity: 1; transform: none; filter: none; } }
@keyframes listen { 0%, 100% { box-shadow: inset 0 0 24px #000, 0 0 0 5px #111118, 0 0 0 8px #6b2236; }
                    50% { box-shadow: inset 0 0 24px #000, 0 0 0 5px #111118, 0 0 0 8px #ff4d6d,
                                      0 0 30px rgba(255,77,109,.5); } }
@keyframes glow { 0%, 100% { box-shadow: inset 0 0 24px #000, 0 0 0 5px #111118, 0 0 0 8px #2b2b3a,
                                         0 0 12px rgba(90,110,255,.25); }
                  50% { box-shadow: inset 0 0 24px #000, 0 0 0 5px #111118, 0 0 0 8px #4650c8,
                                    0 0 40px rgba(90,110,255,.6); } }
@media (prefers-reduced-motion: reduce) {
  .oracle-ball *, .oracle-ball .ball, .oracle-ball .window { animation: none !important; transition: none !important; }
}

/* what was heard, timings, history */
.heard-line { text-align: center; font-size: 1.1rem; color: #dfe2ff; margin: .25rem 0 0 !important; }
.heard-label { color: #9aa0d0; font-weight: 600; }
#timings { text-align: center; color: #8e93bb; font-size: .85rem; }
#timings p { color: #8e93bb !important; }
#history-title h2 { font-size: 1.2rem; margin: .5rem 0 0; color: #e6e8ff; }
#history-title p { color: #9aa0d0; margin: .1rem 0 0; font-size: .9rem; }
.history-item { align-items: center !important; border-bottom: 1px solid #23264a; padding: .35rem 0; }
.history-text p { margin: 0 !important; }
.history-q { color: #c9cdf5; }
.history-n { color: #7d82a8; font-weight: 700; }
.history-a { color: #ffffff; font-weight: 600; }
.history-empty p { color: #7d82a8 !important; }

@media (max-width: 640px) {
  /* One column on a phone, in the order of use: the ball, then at once the controls, then the rest. */
  #main { flex-direction: column; flex-wrap: nowrap; }
  #oracle-column, #ask-column { display: contents; }
  #oracle-column > *, #ask-column > * { order: 20; }
  #status { order: 1; } #ball { order: 2; } #question-audio { order: 3; } #ask-column > .form { order: 4; }
  #ask-button { order: 5; } #heard { order: 6; } #answer-audio { order: 7; } #timings { order: 8; }
  #spoken-examples { order: 9; } #typed-examples { order: 10; } #history-title { order: 11; }
  .history-item { flex-wrap: wrap !important; }
  .history-item > * { flex: 1 1 100% !important; }
  .masthead h1 { font-size: 1.5rem; }
  .masthead p { font-size: .92rem; }
  .mini-ball { width: 2.6rem; height: 2.6rem; }
  .oracle-ball .ball { --size: min(300px, 76vw); }
  .oracle-status .step { font-size: .68rem; }
  .oracle-status .hint { font-size: .98rem; }
}
@media (max-width: 420px) {
  .oracle-status .step:not(.current) .step-label { visibility: hidden; }
}
"""


class OracleBlocks(gr.Blocks):
    """``gr.Blocks`` that brings its own look to every ``launch()``: Gradio 6 takes the theme and the
    CSS as ``launch()`` arguments, and this app is launched by ``main()``, the tests and the Space."""

    def launch(self, *args, **kwargs):
        kwargs.setdefault("theme", THEME)
        kwargs.setdefault("css", CSS)
        return super().launch(*args, **kwargs)


def _js_values(*values) -> str:
    """A browser-only event handler that sets its outputs to ``values`` at once, with no server round trip."""
    return f"() => {json.dumps(list(values))}"


def build_demo(oracle: Oracle, example_dir: Path | None = None) -> gr.Blocks:
    examples_audio = spoken_examples(example_dir or Path(tempfile.gettempdir()) / "magic8ball-examples")

    def answer_or_error(reply_fn, value) -> Reply:
        try:
            return reply_fn(value)
        except OracleError as error:
            raise gr.Error(str(error), print_exception=False) from None

    # ---- API endpoints (also what the UI calls underneath) ----
    def ask(audio_path: str | None) -> tuple[str, str]:
        reply = answer_or_error(oracle.ask, audio_path)
        return reply.question, reply.answer

    def ask_text(question: str) -> str:
        return answer_or_error(oracle.ask_text, question).answer

    @spaces.GPU(duration=SPEAK_GPU_SECONDS)
    def speak(text: str):
        """Stream the spoken answer: one WAV chunk per sentence or clause, int16, one loudness."""
        if not (text or "").strip():
            raise gr.Error("There is nothing to speak: ask a question first.", print_exception=False)
        try:
            for chunk in oracle.speak(text):
                yield wav_bytes(chunk, oracle.sample_rate)
        except OracleError as error:
            raise gr.Error(str(error), print_exception=False) from None

    def consult(audio_path: str | None):
        reply = answer_or_error(oracle.ask, audio_path)
        return reply.question, reply.answer, (oracle.sample_rate, oracle.speak_all(reply.answer))

    # ---- UI flow: hear and answer on the CPU, keep the reply in State, then stream the voice ----
    # Each step yields (ball, status, reply, heard); the spoken flow also clears the microphone.
    def failed(stage: str, error: OracleError, typed: bool):
        gr.Warning(str(error))
        return ball_html(stage, failed=True), status_html(stage, str(error), failed=True, typed=typed), None

    def consult_spoken(audio_path: str | None):
        start = time.perf_counter()
        try:
            question = oracle.hear(audio_path)
        except OracleError as error:
            yield *failed("hearing", error, typed=False), "", gr.update(value=None)
            return
        hear_ms = (time.perf_counter() - start) * 1000
        # Back to "Record" so the next question is one press away; "You asked" keeps what was heard.
        yield (ball_html("consulting"), status_html("consulting"), None, heard_html(question),
               gr.update(value=None))
        try:
            reply = dataclasses.replace(oracle.ask_text(question), hear_ms=hear_ms)
        except OracleError as error:
            yield *failed("consulting", error, typed=False), heard_html(question), gr.skip()
            return
        yield (ball_html("consulting", reply.answer), status_html("consulting", "The answer surfaces…"), reply,
               heard_html(question), gr.skip())

    def consult_typed(question: str):
        try:
            reply = oracle.ask_text(question)
        except OracleError as error:
            yield *failed("consulting", error, typed=True), ""
            return
        yield (ball_html("consulting", reply.answer), status_html("consulting", "The answer surfaces…", typed=True),
               reply, heard_html(reply.question))

    def speak_for_ui(reply: Reply | None, history: list[dict]):
        if reply is None:
            yield gr.skip(), gr.skip(), gr.skip(), "", gr.skip()
            return
        typed = reply.hear_ms is None
        start = time.perf_counter()
        first_audio_ms = None
        chunks: list[bytes] = []
        try:
            for chunk in speak(reply.answer):
                chunks.append(chunk)
                if first_audio_ms is None:
                    first_audio_ms = (time.perf_counter() - start) * 1000
                    yield (chunk, ball_html("speaking", reply.answer),
                           status_html("speaking", typed=typed, answer=reply.answer), gr.skip(), gr.skip())
                else:
                    yield chunk, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except (OracleError, gr.Error) as error:  # speak() turns the oracle's errors into gr.Error
            log.warning("speaking failed: %s", error)
        timings = timings_line(reply, first_audio_ms, oracle.engine_names)
        if not chunks:  # no voice this time: the written answer stands
            yield (gr.skip(), ball_html("done", reply.answer),
                   status_html("done", "The oracle lost its voice, but its answer stands.", typed=typed,
                               answer=reply.answer),
                   timings, remember(history, reply, None))
            return
        # The stream plays on in the browser; "done" comes when it ends (voice.stop below).
        yield gr.skip(), gr.skip(), gr.skip(), timings, remember(history, reply, chunks)

    def remember(history: list[dict], reply: Reply, chunks: list[bytes] | None) -> list[dict]:
        """This visit's history with ``reply`` added; its spoken answer saved as one WAV in Gradio's cache,
        which ``delete_cache`` empties. The file name is a number: no user text becomes a path."""
        history = list(history or [])[-(HISTORY_LIMIT - 1):]
        number = (history[-1]["number"] + 1) if history else 1
        wav = None
        if chunks:
            samples = np.concatenate([soundfile.read(io.BytesIO(chunk), dtype="int16")[0] for chunk in chunks])
            wav = save_bytes_to_cache(wav_bytes(samples, oracle.sample_rate), f"oracle-answer-{number}.wav",
                                      get_upload_folder())
        history.append({"number": number, "question": reply.question, "answer": reply.answer, "wav": wav})
        return history

    def finished(reply: Reply | None):
        if reply is None:
            return gr.skip(), gr.skip()
        return ball_html("done", reply.answer), status_html("done", typed=reply.hear_ms is None, answer=reply.answer)

    with OracleBlocks(title=TITLE, delete_cache=cache_sweep_settings()) as demo:
        gr.HTML(HEADER_HTML, elem_id="title")
        reply_state = gr.State(None)
        history_state = gr.State([])
        with gr.Row(equal_height=False, elem_id="main"):
            with gr.Column(scale=6, min_width=300, elem_id="oracle-column"):
                status = gr.HTML(status_html("ready"), elem_id="status")
                ball = gr.HTML(ball_html("ready"), elem_id="ball", js_on_load=None)
                heard = gr.HTML("", elem_id="heard")
                voice = SpeechStream(label="The oracle's voice", autoplay=True, elem_id="answer-audio")
                timings = gr.Markdown(elem_id="timings")
            with gr.Column(scale=5, min_width=300, elem_id="ask-column"):
                microphone = gr.Audio(sources=["microphone"], type="filepath",
                                      label="Ask aloud: press Record, ask, then Stop", elem_id="question-audio")
                typed = gr.Textbox(label="…or type your question and press Enter", placeholder="Should I…?",
                                   lines=1, max_lines=3, elem_id="question-text")
                ask_button = gr.Button("Ask the oracle", variant="primary", elem_id="ask-button")
                spoken_examples_ui = gr.Examples(
                    examples_audio, inputs=[microphone], label="Spoken examples: click one to ask it",
                    example_labels=[f"🔊 {q}" for q in EXAMPLE_QUESTIONS], elem_id="spoken-examples")
                typed_examples_ui = gr.Examples(
                    [[q] for q in EXAMPLE_QUESTIONS], inputs=[typed], label="Typed examples: click one to ask it",
                    elem_id="typed-examples")
                gr.HTML('<h2>This visit</h2><p>Only you see these, and they are gone when you close the page.</p>',
                        elem_id="history-title")

                @gr.render(inputs=[history_state])
                def show_history(history: list[dict]):
                    if not history:
                        gr.Markdown("No questions yet.", elem_classes="history-empty")
                        return
                    for item in reversed(history):
                        with gr.Row(elem_classes="history-item", equal_height=True):
                            gr.HTML(history_entry_html(item["number"], item), scale=1, min_width=220)
                            if item["wav"]:
                                gr.DownloadButton(f"⬇ Download answer {item['number']}", value=item["wav"],
                                                  size="sm", scale=0, min_width=170,
                                                  elem_classes="history-download")

        ui = dict(api_visibility="private", show_progress="hidden")

        def chain(trigger, consult_fn, question_input, typed_flow: bool):
            first = "consulting" if typed_flow else "hearing"
            # At once, in the browser: show the first stage, silence the last answer (a fresh player).
            trigger(None, None, [ball, status, heard, timings, voice], js=_js_values(
                ball_html(first), status_html(first, typed=typed_flow), "", "", None), **ui)
            outputs = [ball, status, reply_state, heard] + ([] if typed_flow else [microphone])
            thinking = trigger(consult_fn, inputs=[question_input], outputs=outputs, concurrency_id="think",
                               concurrency_limit=THINKING_CONCURRENCY, trigger_mode="once", **ui)
            thinking.then(speak_for_ui, inputs=[reply_state, history_state],
                          outputs=[voice, ball, status, timings, history_state],
                          concurrency_id="speak", concurrency_limit=SPEAKING_CONCURRENCY, **ui)

        microphone.start_recording(None, None, [ball, status, heard, timings, voice], js=_js_values(
            ball_html("listening"), status_html("listening"), "", "", None), **ui)
        chain(microphone.stop_recording, consult_spoken, microphone, typed_flow=False)
        chain(spoken_examples_ui.load_input_event.then, consult_spoken, microphone, typed_flow=False)
        chain(ask_button.click, consult_typed, typed, typed_flow=True)
        chain(typed.submit, consult_typed, typed, typed_flow=True)
        chain(typed_examples_ui.load_input_event.then, consult_typed, typed, typed_flow=True)
        voice.stop(finished, inputs=[reply_state], outputs=[ball, status], concurrency_limit=None, **ui)

        # ---- API-only components, for gradio_client scripts ----
        with gr.Column(visible=False):
            api_audio = gr.Audio(sources=["upload"], type="filepath", label="question audio")
            api_text = gr.Textbox(label="text")
            api_question = gr.Textbox(label="question")
            api_answer = gr.Textbox(label="answer")
            api_stream = SpeechStream(label="spoken answer (stream)")
            api_wav = gr.Audio(label="spoken answer", type="numpy", format="wav")
            api_trigger = gr.Button("api")
        api_trigger.click(ask, inputs=[api_audio], outputs=[api_question, api_answer], api_name="ask",
              concurrency_id="think", concurrency_limit=THINKING_CONCURRENCY)
        api_trigger.click(ask_text, inputs=[api_text], outputs=[api_answer], api_name="ask_text",
              concurrency_id="think", concurrency_limit=THINKING_CONCURRENCY)
        api_trigger.click(speak, inputs=[api_text], outputs=[api_stream], api_name="speak",
              concurrency_id="speak", concurrency_limit=SPEAKING_CONCURRENCY)
        api_trigger.click(consult, inputs=[api_audio], outputs=[api_question, api_answer, api_wav], api_name="consult",
              concurrency_id="think", concurrency_limit=THINKING_CONCURRENCY)

    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=1)
    refuse_audio_by_url(demo)
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    oracle = Oracle.from_settings(Settings.from_env())
    oracle.warm_up()
    build_demo(oracle).launch(**launch_settings())


if __name__ == "__main__":
    main()
