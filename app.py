"""Magic 8 Ball 🎱 — ask a question aloud and hear a proverb back.

``build_demo(oracle)`` wires the Gradio UI and the API endpoints to the pipeline and does nothing
else; ``main()`` picks the engines from the environment, warms them up and serves on 127.0.0.1:7860.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import time
from pathlib import Path

import spaces  # must come before anything initialises CUDA (ZeroGPU)
import gradio as gr

from oracle.audio import wav_bytes
from oracle.config import Settings
from oracle.errors import OracleError
from oracle.examples import EXAMPLE_QUESTIONS, spoken_examples
from oracle.pipeline import Oracle, Reply

TITLE = "Magic 8 Ball 🎱"
SUBTITLE = "Ask a question and receive wisdom"

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
# Gradio's cache (uploads, the examples, whole-answer WAVs of /consult) is swept every
# CACHE_SWEEP_S of files older than CACHE_MAX_AGE_S; ORACLE_CACHE_MAX_AGE overrides the age.
CACHE_SWEEP_S = 60
CACHE_MAX_AGE_S = 600

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
    def consult_for_ui(get_reply, first_status: str):
        yield first_status, "", "", None
        try:
            reply = get_reply()
        except OracleError as error:
            gr.Warning(str(error))
            yield f"⚠️ {error}", "", "", None
            return
        yield "🗣 Speaking…", f"**You asked:** {reply.question}", f"### {reply.answer}", reply

    def consult_spoken(audio_path: str | None):
        yield from consult_for_ui(lambda: oracle.ask(audio_path), "👂 Hearing your question…")

    def consult_typed(question: str):
        yield from consult_for_ui(lambda: oracle.ask_text(question), "🔮 Consulting the oracle…")

    def speak_for_ui(reply: Reply | None):
        if reply is None:
            yield gr.skip(), gr.skip(), ""
            return
        start = time.perf_counter()
        first_audio_ms = None
        for chunk in speak(reply.answer):
            if first_audio_ms is None:
                first_audio_ms = (time.perf_counter() - start) * 1000
            yield chunk, gr.skip(), gr.skip()
        yield gr.skip(), "✨ The oracle has spoken.", timings_line(reply, first_audio_ms, oracle.engine_names)

    with gr.Blocks(title=TITLE, delete_cache=cache_sweep_settings()) as demo:
        gr.Markdown(f"# {TITLE}\n{SUBTITLE}")
        reply_state = gr.State(None)
        with gr.Row():
            with gr.Column():
                microphone = gr.Audio(sources=["microphone"], type="filepath", label="Ask aloud",
                                      elem_id="question-audio")
                typed = gr.Textbox(label="…or type your question", placeholder="Should I…?",
                                   elem_id="question-text")
                ask_button = gr.Button("Ask the oracle", variant="primary", elem_id="ask-button")
            with gr.Column():
                status = gr.Markdown("Ready. Ask aloud or type a question.", elem_id="status")
                heard = gr.Markdown(elem_id="heard")
                answer = gr.Markdown(elem_id="answer")
                voice = gr.Audio(label="The oracle speaks", streaming=True, autoplay=True, interactive=False,
                                 elem_id="answer-audio")
                timings = gr.Markdown(elem_id="timings")
        spoken_examples_ui = gr.Examples(examples_audio, inputs=[microphone], label="Spoken examples")
        typed_examples_ui = gr.Examples([[q] for q in EXAMPLE_QUESTIONS], inputs=[typed], label="Typed examples")

        def chain(trigger, consult_fn, question_input):
            thinking = trigger(consult_fn, inputs=[question_input], outputs=[status, heard, answer, reply_state],
                               api_visibility="private", concurrency_id="think",
                               concurrency_limit=THINKING_CONCURRENCY, trigger_mode="once")
            thinking.then(speak_for_ui, inputs=[reply_state], outputs=[voice, status, timings],
                          api_visibility="private", concurrency_id="speak", concurrency_limit=SPEAKING_CONCURRENCY)

        chain(microphone.stop_recording, consult_spoken, microphone)
        chain(spoken_examples_ui.load_input_event.then, consult_spoken, microphone)
        chain(ask_button.click, consult_typed, typed)
        chain(typed.submit, consult_typed, typed)
        chain(typed_examples_ui.load_input_event.then, consult_typed, typed)

        # ---- API-only components, for gradio_client scripts ----
        with gr.Column(visible=False):
            api_audio = gr.Audio(sources=["upload"], type="filepath", label="question audio")
            api_text = gr.Textbox(label="text")
            api_question = gr.Textbox(label="question")
            api_answer = gr.Textbox(label="answer")
            api_stream = gr.Audio(label="spoken answer (stream)", streaming=True, autoplay=False)
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
