"""Magic 8 Ball 🎱 — ask a question aloud and hear a proverb back.

``build_demo(oracle)`` lays out the page, wires its events and the API endpoints to
``oracle.web.flow.OracleFlow``, and installs the server's defences (``oracle.web.defences``) and Gradio
workarounds (``oracle.web.gradio_adapter``); ``main()`` picks the engines from the environment, warms
them up and serves on 127.0.0.1:7860.

The page (its look is ``oracle/web/look.py``) walks through six visible stages, from ready to done: the
stages and the moves between them are one table, ``oracle/web/stages.py``.
Every visit keeps its own history (a ``gr.State``) with each spoken answer downloadable.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import spaces  # noqa: F401  (must be imported before anything initialises CUDA: ZeroGPU)
import gradio as gr

from oracle import logs
from oracle.config import Settings
from oracle.examples import example_questions, spoken_examples, voices_held_by
from oracle.languages import AUTO, ENGLISH, SUPPORTED
from oracle.limits import (ANSWERING_CONCURRENCY, DRAIN_EXIT_S, LISTENING_CONCURRENCY, MAX_FILE_SIZE, MICROPHONE_CHUNK_S,
                           QUEUE_MAX_SIZE, SPEAKING_CONCURRENCY, THINKING_CONCURRENCY, listen_time_limit_s)
from oracle.pipeline import Oracle
from oracle.selection import gpu_available
from oracle.web.flow import OracleFlow, Page
from oracle.web.defences import protect, server_settings
from oracle.web.gradio_adapter import check_gradio_version
from oracle.web.gradio_adapter.page import BlocksWithLook, component_id, examples_loaded
from oracle.web.housekeeping import cache_sweep_settings
from oracle.web.middleware import Drain
from oracle.web.served import Served, remember
from oracle.web.look import (LOOK, PAGE_SCRIPT, SharedValues, ball_html, examples_for_choice, header_html,
                             history_entry_html, history_title_html, js_values, js_values_unless_answer_kept, live_html,
                             page_language, say, status_html, words)
from oracle.web.speech_stream import SpeechStream
from oracle.web.stages import Stage, ask, move

TITLE = "Magic 8 Ball 🎱"

log = logging.getLogger("oracle.app")


def launch_settings(drain: Drain | None = None) -> dict:
    """How the server is launched, by main() and the tests alike (a fresh dict: Gradio edits it).

    show_error=False: only the oracle's own friendly messages (gr.Error) reach a user, never an
    exception's text. ``server_settings``: the front door, the housekeeping, the visits kept; ``drain``
    (main()'s SIGTERM handler begins it) shuts the server down gently.
    """
    return {"max_file_size": MAX_FILE_SIZE, "show_error": False, **server_settings(MAX_FILE_SIZE, drain or Drain())}


def build_demo(oracle: Oracle, example_dir: Path | None = None) -> gr.Blocks:
    # Every language's, recorded once per machine (by the voices the oracle holds already, where it does).
    examples_audio = spoken_examples(example_dir, voices_held_by(oracle.speaker))
    # The answer's voice is prepared at each pause too, where the voice runs on this CPU: a ZeroGPU voice exists
    # only inside a @spaces.GPU call, and a GPU's first clause is too dear to spend on words that may change.
    flow = OracleFlow(oracle, prepare_voice=not gpu_available())

    with BlocksWithLook(LOOK, title=TITLE, delete_cache=cache_sweep_settings()) as demo:
        title = gr.HTML(header_html(), elem_id="title")
        # The answer (oracle.conversation.Turn: the reply and the voice prepared while it was spoken), handed
        # from the thinking step to the speaking step; the question being recorded (a Conversation).
        turn_state = gr.State(None)
        conversation_state = gr.State(None, delete_callback=flow.forget)
        history_state = gr.State([])
        with gr.Row(equal_height=False, elem_id="main"):
            with gr.Column(scale=6, min_width=300, elem_id="oracle-column"):
                status = gr.HTML(status_html(Stage.READY), elem_id="status")
                ball = gr.HTML(ball_html(Stage.READY), elem_id="ball", js_on_load=None)
                heard = gr.HTML("", elem_id="heard")
                live = gr.HTML(live_html(), elem_id="live")
                voice = SpeechStream(label=say("voice_label"), autoplay=True, elem_id="answer-audio")
                timings = gr.Markdown(elem_id="timings")
            with gr.Column(scale=5, min_width=300, elem_id="ask-column"):
                # type="filepath", format=None: each chunk reaches the app as the browser uploaded it, and is
                # decoded by oracle.audio like any upload (never by Gradio's pydub reader).
                microphone = gr.Audio(sources=["microphone"], type="filepath", format=None, streaming=True,
                                      label=say("microphone_label"), elem_id="question-audio")
                gr.HTML("", elem_id="microphone-problem")
                gr.Checkbox(False, label=say("hands_free"), elem_id="hands-free", info=say("hands_free_info"))
                # Choice labels stay plain text: Gradio 6.17 sends a translated choice's label as its value.
                language = gr.Dropdown([("Auto", AUTO)] + [(lang.native, code) for code, lang in SUPPORTED.items()],
                                       value=AUTO, label=say("language"), elem_id="language", info=say("language_info"))
                # The spoken examples are recordings: they are asked through the upload path.
                example_audio = gr.Audio(sources=["upload"], type="filepath", visible=False,
                                         elem_id="example-audio")
                typed = gr.Textbox(label=say("typed_label"), placeholder=say("typed_placeholder"),
                                   lines=1, max_lines=3, elem_id="question-text")
                ask_button = gr.Button(say("ask_button"), variant="primary", elem_id="ask-button")
                # Every language's examples; the page shows those of the language chosen (Auto: the browser's),
                # at once in the browser (page_language_js, examples_for_choice_js). Each is asked in its
                # own language. English shows until the page's script has chosen.
                example_sets = []  # (language, its spoken examples, its typed examples, its language as input)
                for code in SUPPORTED:
                    questions = example_questions(code)
                    spoken_set = gr.Examples(
                        [[path] for path in examples_audio[code]], inputs=[example_audio],
                        label=say("spoken_examples"), example_labels=[f"🔊 {q}" for q in questions],
                        elem_id=f"spoken-examples-{code}", visible=code == ENGLISH or "hidden")
                    # Labelled, like the spoken ones: Gradio 6.17 draws unlabelled examples by loading the input's
                    # Example component asynchronously, which can read the Dataset's props before they are set
                    # ("Cannot read properties of undefined (reading '0')" in the page); labels are plain text.
                    typed_set = gr.Examples(
                        [[q] for q in questions], inputs=[typed], label=say("typed_examples"),
                        example_labels=questions, elem_id=f"typed-examples-{code}", visible=code == ENGLISH or "hidden")
                    example_sets.append((code, spoken_set, typed_set, gr.State(code)))
                history_title = gr.HTML(history_title_html(), elem_id="history-title")

                @gr.render(inputs=[history_state])
                def show_history(history: list[dict]):
                    if not history:
                        gr.Markdown(say("history_empty"), elem_classes="history-empty")
                        return
                    for item in reversed(history):
                        with gr.Row(elem_classes="history-item", equal_height=True):
                            gr.HTML(history_entry_html(item["number"], item), scale=1, min_width=220)
                            if item["wav"]:
                                download = words(item.get("language"))["download_answer"]  # the row's language
                                gr.DownloadButton(f"⬇ {download} {item['number']}", value=item["wav"],
                                                  size="sm", scale=0, min_width=170,
                                                  elem_classes="history-download")

        flow.page = page = Page(title=title, history_title=history_title, ball=ball, status=status, heard=heard,
                                live=live, timings=timings, voice=voice, history=history_state, turn=turn_state,
                                conversation=conversation_state)
        ui = dict(api_visibility="private", show_progress="hidden")
        # The page's own script (oracle/web/page.js): microphone problems, hands-free Stop, keyboard focus; and
        # the page's own words in the visitor's language (Gradio translates the components' labels itself).
        demo.load(None, None, None, js=PAGE_SCRIPT, **ui)
        # Each example set's dataset, and its language.
        example_datasets = {ui_set.dataset: code for code, spoken_set, typed_set, _ in example_sets
                            for ui_set in (spoken_set, typed_set)}

        def in_the_browser(trigger, step, inputs=None):
            """Wire a browser-only step (``look.BrowserStep``) to ``trigger``."""
            trigger(None, inputs, step.outputs, js=step.js, **ui)

        # The language control's "Auto" in the browser's words, and the examples of the browser's language.
        in_the_browser(demo.load, page_language(language, example_datasets))
        in_the_browser(language.change, examples_for_choice(example_datasets), inputs=[language])
        demo.load(flow.page_words, None, page.words_outputs, concurrency_limit=None, **ui)

        first_stage = SharedValues()  # every question's first look, sent to the page once (see chain)

        def chain(trigger, consult_fn, question_input, typed_flow: bool, language_input=language):
            first = ask(Stage.CONSULTING if typed_flow else Stage.HEARING)
            # At once, in the browser: show the first stage, silence the last answer (a fresh player).
            in_the_browser(trigger, first_stage.step(lambda language: {
                ball: ball_html(first, language=language),
                status: status_html(first, typed=typed_flow, language=language),
                heard: "", timings: "", voice: None}))
            group = dict(concurrency_id="answer", concurrency_limit=ANSWERING_CONCURRENCY) if typed_flow else \
                dict(concurrency_id="think", concurrency_limit=THINKING_CONCURRENCY)
            thinking = trigger(consult_fn, inputs=[question_input, language_input], outputs=page.thinking_outputs,
                               trigger_mode="once", **group, **ui)
            speak(thinking)

        def speak(thinking):
            # .success: a question that failed (silence, too short, nothing typed) ends with its message,
            # and no speaking step starts.
            thinking.success(flow.speak_for_page, inputs=[turn_state, history_state], outputs=page.speaking_outputs,
                             concurrency_id="speak", concurrency_limit=SPEAKING_CONCURRENCY, **ui)

        listening = ask(Stage.LISTENING)
        in_the_browser(microphone.start_recording, js_values_unless_answer_kept(lambda language: {
            ball: ball_html(listening, language=language),
            status: status_html(listening, "opening_microphone", language=language),
            heard: "", timings: "", voice: None, live: live_html()}))
        microphone.stream(flow.hear_chunk, inputs=[microphone, language],
                          outputs=[conversation_state, live],
                          stream_every=MICROPHONE_CHUNK_S, time_limit=listen_time_limit_s(oracle.settings.max_question_s),
                          concurrency_id="listen", concurrency_limit=LISTENING_CONCURRENCY, **ui)
        # Stop (pressed, or pressed by the page at the end of speech): "Hearing" at once, in the browser.
        stopped = move(Stage.LISTENING, Stage.HEARING)
        in_the_browser(microphone.stop_recording, js_values(lambda language: {
            ball: ball_html(stopped, language=language), status: status_html(stopped, language=language),
            heard: "", timings: "", voice: None, live: live_html()}))
        speak(microphone.stop_recording(
            flow.consult_streamed, inputs=[conversation_state], outputs=page.thinking_outputs + [conversation_state],
            concurrency_id="think", concurrency_limit=THINKING_CONCURRENCY, trigger_mode="once", **ui))
        chain(ask_button.click, flow.consult_typed, typed, typed_flow=True)
        chain(typed.submit, flow.consult_typed, typed, typed_flow=True)
        for _code, spoken_set, typed_set, its_language in example_sets:  # an example is asked in its language
            chain(examples_loaded(spoken_set).then, flow.consult_spoken, example_audio, typed_flow=False,
                  language_input=its_language)
            chain(examples_loaded(typed_set).then, flow.consult_typed, typed, typed_flow=True,
                  language_input=its_language)
        demo.load(None, None, None, js=first_stage.script(), **ui)
        voice.stop(flow.finished, inputs=[turn_state], outputs=[ball, status], concurrency_limit=None, **ui)

        # ---- API-only components, for gradio_client scripts ----
        with gr.Column(visible=False):
            api_audio = gr.Audio(sources=["upload"], type="filepath", label="question audio")
            api_text = gr.Textbox(label="text")
            api_question = gr.Textbox(label="question")
            api_answer = gr.Textbox(label="answer")
            api_stream = SpeechStream(label="spoken answer (stream)")
            api_wav = gr.Audio(label="spoken answer", type="numpy", format="wav")
            # Optional (it has a default), last: scripts written before languages keep working.
            api_language = gr.Textbox(AUTO, label="language")
            api_trigger = gr.Button("api")
        api_trigger.click(flow.ask, inputs=[api_audio, api_language], outputs=[api_question, api_answer],
                          api_name="ask", concurrency_id="think", concurrency_limit=THINKING_CONCURRENCY)
        api_trigger.click(flow.ask_text, inputs=[api_text, api_language], outputs=[api_answer], api_name="ask_text",
                          concurrency_id="answer", concurrency_limit=ANSWERING_CONCURRENCY)
        api_trigger.click(flow.speak, inputs=[api_text, api_language], outputs=[api_stream], api_name="speak",
                          concurrency_id="speak", concurrency_limit=SPEAKING_CONCURRENCY)
        api_trigger.click(flow.consult, inputs=[api_audio, api_language], outputs=[api_question, api_answer, api_wav],
                          api_name="consult", concurrency_id="think", concurrency_limit=THINKING_CONCURRENCY)

    # api_open=False: the queue is the only way in (gradio_client uses it); no direct POST to /run/.
    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=1, api_open=False)
    # The draining server closes the flow's recordings (housekeeping); refusals are told in the language a
    # request names.
    remember(demo, Served(flow, language_inputs=frozenset(component_id(block) for block in (language, api_language))))
    protect(demo)
    return demo


def main() -> None:
    logs.configure()
    check_gradio_version()
    if os.environ.get("SPACE_ID"):
        # On a Space every request comes through Hugging Face's proxy: trust the client address it forwards,
        # or every visitor would share the proxy's address and its cap on waiting requests.
        os.environ.setdefault("FORWARDED_ALLOW_IPS", "*")
    oracle = Oracle.from_settings(Settings.from_env())
    oracle.warm_up()
    demo = build_demo(oracle)
    drain = Drain()

    def drain_then_exit(signum, frame):
        """SIGTERM: refuse new requests, end running ones with a friendly message, exit 0 within DRAIN_EXIT_S."""
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
