"""Magic 8 Ball 🎱 — ask a question aloud and hear a proverb back.

``build_demo(oracle)`` wires the Gradio UI and the API endpoints to the pipeline and does nothing
else; ``main()`` picks the engines from the environment, warms them up and serves on 127.0.0.1:7860.
"""

from __future__ import annotations

import logging
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
from oracle.speech_stream import SpeechStream

TITLE = "Magic 8 Ball 🎱"
SUBTITLE = "Ask a question and receive wisdom"
MAX_FILE_SIZE = "10mb"
QUEUE_MAX_SIZE = 32
THINKING_CONCURRENCY = 2
SPEAKING_CONCURRENCY = 2
# The longest a single speaking request may hold a (Zero)GPU.
SPEAK_GPU_SECONDS = 60

log = logging.getLogger("oracle.app")


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
        for chunk in oracle.speak(text):
            yield wav_bytes(chunk, oracle.sample_rate)

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

    with gr.Blocks(title=TITLE, delete_cache=(300, 900)) as demo:
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
                voice = SpeechStream(label="The oracle speaks", autoplay=True, elem_id="answer-audio")
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

    demo.queue(max_size=QUEUE_MAX_SIZE)
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    oracle = Oracle.from_settings(Settings.from_env())
    oracle.warm_up()
    build_demo(oracle).launch(max_file_size=MAX_FILE_SIZE, show_error=False)


if __name__ == "__main__":
    main()
