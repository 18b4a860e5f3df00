"""Magic 8 Ball 🎱 — ask a question aloud and hear a proverb back.

``build_demo(oracle)`` wires the Gradio UI and the API endpoints to the pipeline and does nothing
else; ``main()`` picks the engines from the environment, warms them up and serves on 127.0.0.1:7860.

The page (its look is ``oracle/web/look.py``) walks through six visible stages, from ready to done.
Every visit keeps its own history (a ``gr.State``) with each spoken answer downloadable.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import signal
import sys
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
from oracle.web.defences import Drain, protect, server_settings
from oracle.web.housekeeping import DRAIN_EXIT_S, cache_sweep_settings, refuse_audio_by_url
from oracle.web.look import (HEADER_HTML, OracleBlocks, ball_html, heard_html, history_entry_html, js_values,
                             status_html, timings_line)
from oracle.web.speech_stream import SpeechStream

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
# ---- end of limits ----
# A visit remembers at most this many questions (the oldest are forgotten first).
HISTORY_LIMIT = 20

log = logging.getLogger("oracle.app")


def launch_settings(drain: Drain | None = None) -> dict:
    """How the server is launched, by main() and the tests alike (a fresh dict: Gradio edits it).

    show_error=False: only the oracle's own friendly messages (gr.Error) reach a user, never an
    exception's text. ``drain`` (main()'s SIGTERM handler begins it) shuts the server down gently.
    """
    return {"max_file_size": MAX_FILE_SIZE, "show_error": False,
            **server_settings(MAX_FILE_SIZE, drain or Drain())}


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
            trigger(None, None, [ball, status, heard, timings, voice], js=js_values(
                ball_html(first), status_html(first, typed=typed_flow), "", "", None), **ui)
            outputs = [ball, status, reply_state, heard] + ([] if typed_flow else [microphone])
            thinking = trigger(consult_fn, inputs=[question_input], outputs=outputs, concurrency_id="think",
                               concurrency_limit=THINKING_CONCURRENCY, trigger_mode="once", **ui)
            thinking.then(speak_for_ui, inputs=[reply_state, history_state],
                          outputs=[voice, ball, status, timings, history_state],
                          concurrency_id="speak", concurrency_limit=SPEAKING_CONCURRENCY, **ui)

        microphone.start_recording(None, None, [ball, status, heard, timings, voice], js=js_values(
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

    # api_open=False: the queue is the only way in (gradio_client uses it); no direct POST to /run/.
    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=1, api_open=False)
    refuse_audio_by_url(demo)
    protect(demo)
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    oracle = Oracle.from_settings(Settings.from_env())
    oracle.warm_up()
    demo = build_demo(oracle)
    drain = Drain()

    def drain_then_exit(signum, frame):
        """SIGTERM: refuse new requests, let running ones finish or end them with a friendly message,
        then exit 0 (within DRAIN_EXIT_S)."""
        log.info("SIGTERM: draining")
        drain.begin()
        if not drain.wait_finished(DRAIN_EXIT_S - 1):
            log.warning("draining took too long; closing anyway")
        demo.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, drain_then_exit)
    demo.launch(**launch_settings(drain))


if __name__ == "__main__":
    main()
