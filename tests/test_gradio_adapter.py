"""The workarounds of ``oracle/web/gradio_adapter`` (the only code reaching past Gradio's public API) do what
they say, each against Gradio as installed: on a Gradio upgrade this file fails first, naming the workaround
that no longer holds. Workarounds tested through the running app elsewhere: the queue's checks, unreadable
inputs and every error's message (test_attacks.py), Range and the routes taken over (test_attacks.py,
test_microphone_attacks.py), chunks in order and silent streams (test_microphone_attacks.py), the sweeps
(test_housekeeping.py, test_attacks.py), draining (test_attacks.py), abandoned generators
(test_streaming_cancel.py), the voice's playlist (test_voice_playlist.py), the example events and the page's
script (test_browser*.py)."""

from __future__ import annotations

import time

import gradio as gr
import numpy as np
import pytest

from oracle.audio import wav_bytes
import oracle.web.gradio_adapter as adapter
from harness import gradio_probes
from harness.gradio_probes import run
from oracle.web.gradio_adapter.generators import forget_failed_generators
from oracle.web.gradio_adapter.memory import save_wav_to_cache
from oracle.web.gradio_adapter.page import component_id, dark_only
from oracle.web.gradio_adapter.requests import refuse_urls_as_audio
from oracle.web.gradio_adapter.voice import VOICE_ENDED, keep_streamed_values_whole
from oracle.web.speech_stream import SpeechStream




def test_gradio_is_the_version_the_adapter_was_written_for():
    assert gr.__version__ == adapter.TESTED_GRADIO_VERSION, (
        f"Gradio {gr.__version__} is installed; read oracle/web/gradio_adapter/ against it, then "
        f"update TESTED_GRADIO_VERSION")
    assert adapter.check_gradio_version()


def test_another_gradio_is_named_in_one_warning_at_start_up(monkeypatch, caplog):
    monkeypatch.setattr(gr, "__version__", "7.0.0")
    with caplog.at_level("WARNING", logger=adapter.__name__):
        assert not adapter.check_gradio_version()
    assert [record.levelname for record in caplog.records] == ["WARNING"]
    assert "7.0.0" in caplog.text and adapter.TESTED_GRADIO_VERSION in caplog.text


def test_a_url_named_as_a_recording_is_refused():
    with gr.Blocks() as demo:
        gr.Audio(sources=["upload"], type="filepath")
    refuse_urls_as_audio(demo, "no links")
    audio = next(block for block in demo.blocks.values() if isinstance(block, gr.Audio))
    with pytest.raises(gr.Error, match="no links"):
        run(audio.async_move_resource_to_block_cache("https://example.com/question.wav"))


def test_a_streamed_segment_has_the_shape_gradio_audio_gives_it():
    tone = (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16)
    stock = run(gr.Audio(streaming=True).stream_output(wav_bytes(tone, 16000), "s/1/2/playlist.m3u8", True))
    ours = run(SpeechStream().stream_output((16000, tone), "s/1/2/playlist.m3u8", True))
    assert set(ours[0]) == set(stock[0]) and ours[0]["extension"] == stock[0]["extension"]
    assert ours[1] == stock[1]


def test_the_streamed_voice_is_drawn_and_configured_as_a_stock_audio_player():
    with gr.Blocks() as demo:
        SpeechStream(label="voice", autoplay=True)
    [component] = demo.get_config_file()["components"]
    assert component["type"] == "audio", "the browser would fetch a custom component it does not have"
    config = component["props"]
    assert config["label"] == "voice" and config["autoplay"] is True and config["streaming"] is True
    assert config["waveform_options"] == gr.Audio().get_config()["waveform_options"]


def test_the_theme_keeps_each_light_value_beside_its_dark_twin():
    theme = dark_only(gr.themes.Default().set(body_background_fill_dark="#010203"))
    assert theme.body_background_fill == "#010203"


def test_every_launch_brings_the_look(monkeypatch):
    """Gradio 6 takes the theme and the CSS at ``launch()``, not in ``gr.Blocks()``: every launch of the app
    (``main()``, the tests, the Space) brings them, and an argument given to ``launch()`` itself wins."""
    from oracle.web.gradio_adapter.page import BlocksWithLook

    launched = []
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, *args, **kwargs: launched.append(kwargs))
    demo = BlocksWithLook({"css": ".ball {}", "head": "<script></script>"})
    demo.launch(head="")
    assert launched == [{"css": ".ball {}", "head": ""}]


def test_files_saved_to_the_cache_are_wav_files_where_gradio_serves_uploads():
    from gradio.utils import get_upload_folder

    path = save_wav_to_cache(np.zeros(1600, dtype=np.int16), 16000, "oracle-answer-0.wav")
    assert path.startswith(str(get_upload_folder())) and path.endswith(".wav")
    with open(path, "rb") as wav:
        assert wav.read(4) == b"RIFF"


def test_each_visit_is_counted_while_gradio_keeps_its_state():
    """``visits_in_memory`` counts the visits whose state Gradio keeps: none before the first request, then
    one per visit (a ``gradio_client.Client`` is one visit), however many requests each made."""
    from gradio_client import Client

    from harness.server import free_port

    with gr.Blocks() as demo:
        box, reply = gr.Textbox(), gr.Textbox()
        gr.Button().click(lambda text: text.upper(), inputs=[box], outputs=[reply], api_name="shout")
    _app, url, _share = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                                    quiet=True)
    try:
        assert gradio_probes.visits_in_memory(demo) == 0
        visits = [Client(url, verbose=False, download_files=False) for _ in range(2)]
        for visit in visits:
            assert visit.predict("hi", api_name="/shout") == "HI"
        assert visits[0].predict("again", api_name="/shout") == "AGAIN"
        assert gradio_probes.visits_in_memory(demo) == 2
        assert {visit.session_hash for visit in visits} <= set(demo.state_holder.session_data)
    finally:
        demo.close()


def test_a_generator_that_fails_after_yielding_leaves_no_record_for_the_next_to_inherit():
    import httpx

    from harness.server import free_port

    def look_then_fail(text: str):
        yield "hazy", "still hazy"
        raise gr.Error("Please type a question first.", print_exception=False)

    with gr.Blocks() as demo:
        box, first, second = gr.Textbox(), gr.Textbox(), gr.Textbox()
        gr.Button().click(look_then_fail, inputs=[box], outputs=[first, second], api_name="ask")
    forget_failed_generators(demo)
    _app, url, _share = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                                    quiet=True)
    try:
        fn_index, session = 0, "failed-generator"  # the demo's one event
        joined = httpx.post(f"{url}gradio_api/queue/join", timeout=10, json={
            "data": [""], "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None})
        joined.raise_for_status()
        with httpx.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session},
                          timeout=30) as events:
            messages = [line for line in events.iter_lines() if line.startswith("data:")]
        assert any('"process_generating"' in m for m in messages), "the generator never yielded"
        assert any('"success": false' in m or '"success":false' in m for m in messages), messages
        assert gradio_probes.diff_records(demo, session) == 0, "Gradio kept the failed generator's outputs"
    finally:
        demo.close()


def _patched(demo: gr.Blocks, audio: gr.Audio) -> tuple:
    """Every method the adapter patches, on ``demo``, its queue, one of its recordings and Gradio's queueing."""
    import gradio.queueing

    return (demo.process_api, demo.preprocess_data, demo._queue.push, audio.async_move_resource_to_block_cache,
            demo.handle_streaming_outputs, gradio.queueing.error_payload)


def test_installing_the_defences_twice_changes_nothing():
    """Every patch is installed once: a second ``protect`` (a test, a reload) must not wrap Gradio twice."""
    from oracle.web.defences import protect

    with gr.Blocks() as demo:
        audio = gr.Audio(sources=["upload"], type="filepath")
    demo.queue()
    stock = _patched(demo, audio)
    protect(demo)
    installed = _patched(demo, audio)
    assert all(ours is not theirs for ours, theirs in zip(installed[:-1], stock[:-1])), "a patch was not installed"
    protect(demo)
    assert _patched(demo, audio) == installed


def test_workarounds_of_one_method_stack_in_any_order_each_once():
    """Two workarounds of one of Gradio's methods (as the queue's ``push`` has) are each installed once, whichever
    was installed last: what is installed is known by name, not by the outermost wrapper."""
    from types import SimpleNamespace

    from oracle.web.gradio_adapter.wrapping import wrap_once

    def first(say):
        return lambda: [*say(), "first"]

    def second(say):
        return lambda: [*say(), "second"]

    owner = SimpleNamespace(say=lambda: ["gradio"])
    for wrap in (first, second, first, second):
        wrap_once(owner, "say", wrap)
    assert owner.say() == ["gradio", "first", "second"]


NAMED_TWICE = """
import gradio as gr, gradio.queueing
from oracle.web.gradio_adapter.requests import name_every_error

assert gradio.queueing.error_payload(RuntimeError("secret"), False).get("error") is None, "Gradio names it now"
name_every_error("Something went wrong.")
installed = gradio.queueing.error_payload
name_every_error("Another message.")
assert gradio.queueing.error_payload is installed, "installed twice"
payload = installed(RuntimeError("secret"), False)
assert payload["error"] == "Something went wrong." and "secret" not in str(payload), payload
assert installed(gr.Error("Ask a question."), False)["error"] == "Ask a question."
"""


def test_every_error_is_named_once_for_the_whole_process():
    """``name_every_error`` patches a module global of Gradio's (for the whole process, hence a fresh one
    here): a second install, with another message, keeps the first; an error that is not a ``gr.Error``
    says that message instead of nothing, and never its own text."""
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-c", NAMED_TWICE], cwd=Path(__file__).parents[1], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def _voice_and_words_demo(speak):
    """A page with a streamed voice and a line of words, both updated by the generator ``speak``."""
    with gr.Blocks() as demo:
        box, words = gr.Textbox(), gr.Textbox()
        voice = SpeechStream(label="voice", autoplay=True)

        def answer(text: str):
            yield from speak(voice, words)

        gr.Button().click(answer, inputs=[box], outputs=[voice, words], api_name="speak")
    return demo


def test_an_update_that_leaves_out_the_voice_leaves_its_value_as_it_was():
    """The update after the voice's only clause (the timings, the history) changes nothing in the voice's
    value: its diff is empty. Gradio would send "delete every key of the playlist", which its browser client
    applies in place to the value the page may not have read yet (the player then never starts)."""
    import json

    import httpx

    from harness.server import free_port

    tone = (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16)

    def speak(voice, words):
        yield {voice: (16000, tone), words: "speaking"}
        yield {words: "done"}

    demo = _voice_and_words_demo(speak)
    keep_streamed_values_whole(demo)
    _app, url, _share = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                                    quiet=True)
    try:
        session = "voice-left-out"
        httpx.post(f"{url}gradio_api/queue/join", timeout=10, json={
            "data": [""], "fn_index": 0, "session_hash": session, "event_data": None,
            "trigger_id": None}).raise_for_status()
        with httpx.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session},
                          timeout=30) as events:
            messages = [json.loads(line[5:]) for line in events.iter_lines() if line.startswith("data:")]
        updates = [m["output"]["data"] for m in messages if m.get("msg") == "process_generating"]
        assert len(updates) == 2, messages
        first_voice, later_voice = updates[0][0], updates[1][0]
        assert first_voice["is_stream"] and first_voice["url"].endswith("playlist.m3u8"), first_voice
        assert later_voice == [], f"the voice's value was rewritten by an update that left it out: {later_voice}"
        assert updates[1][1] != [], "the words' update itself must arrive"
    finally:
        demo.close()


def test_a_generator_at_a_reused_address_starts_a_stream_of_its_own():
    """Gradio keys a generator's streams by ``id()`` of its iterator; a new one at the address of one that
    has finished gets a fresh stream, not the old answer's ended one."""
    step, stream_now = _voice_steps()
    step(TONE)
    step(None, final=True)
    assert stream_now().ended
    step(TONE)  # the next answer's generator, at the same address
    stream = stream_now()
    assert not stream.ended and len(stream.segments) == 1, "the new answer was added to the old, ended stream"


def test_a_voice_that_has_said_all_ends_its_stream_while_its_generator_goes_on():
    """``VOICE_ENDED`` ends the stream at once (the player hears of the end before the answer's history is
    saved); the generator's later updates keep that stream, and its next answer starts a stream of its own."""
    step, stream_now = _voice_steps()
    step(TONE)
    voice_value = step(VOICE_ENDED)[0]
    stream = stream_now()
    assert stream.ended and len(stream.segments) == 1, "the stream did not end when the voice said all"
    assert voice_value["url"].endswith("playlist.m3u8"), f"the voice's value changed: {voice_value}"
    step(gr.skip())  # the history, saved after
    assert stream_now() is stream, "the ended stream was dropped mid-answer"
    step(None, final=True)
    step(TONE)  # the next answer's generator, at the same address
    assert stream_now() is not stream


TONE = (16000, (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16))


def _voice_steps():
    """(step, stream_now) for one generator run of a voice-and-words app with the voice's workarounds:
    ``step(voice_value, final=False)`` hands Gradio one update of the run (the words unchanged) and returns what
    it sends; ``stream_now()`` is the run's voice stream as Gradio keeps it."""
    demo = _voice_and_words_demo(lambda voice, words: iter(()))  # only its outputs are used
    keep_streamed_values_whole(demo)
    block_fn = next(iter(demo.fns.values()))
    voice_id = component_id(block_fn.outputs[0])
    session, run_id = "one-run", 4321

    def step(value, final=False):
        return run(demo.handle_streaming_outputs(block_fn, [value, "words"], session_hash=session, run=run_id,
                                                 final=final))

    return step, lambda: demo.pending_streams[session][run_id][voice_id]


def _sound_onset_s(aac: bytes, rate: int) -> float:
    """Where the decoded ADTS stream first rises above -40 dBFS."""
    import io

    import av

    with av.open(io.BytesIO(aac), format="aac") as container:
        decoded = np.concatenate([frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)])
    return int(np.argmax(np.abs(decoded) > 0.01)) / rate


def test_a_streamed_answer_starts_at_its_first_sound():
    """The first chunk's leading silence is not sent (only the AAC encoder's own 46 ms of priming is heard
    before the voice); later chunks keep theirs, the pauses between sentences."""
    rate = 22050
    tone = (np.sin(np.arange(rate) / 3) * 8000).astype(np.int16)
    chunk = np.concatenate([np.zeros(int(0.3 * rate), dtype=np.int16), tone])
    voice = SpeechStream(label="voice")
    first, _playlist = run(voice.stream_output((rate, chunk), "s/1/2/playlist.m3u8", True))
    later, _playlist = run(voice.stream_output((rate, chunk), "s/1/2/playlist.m3u8", False))
    assert _sound_onset_s(first["data"], rate) < 0.08
    assert first["duration"] == pytest.approx(1.01, abs=0.01)
    assert _sound_onset_s(later["data"], rate) > 0.3


def test_the_sweep_never_drops_an_answer_that_is_still_being_streamed():
    """Gradio makes a run's entry before it encodes the first chunk (an ``await``) and puts the stream in it
    after, and keys runs by ``id()`` of the generator, which Python reuses: neither an empty run nor a new
    stream at the key of an older one is an ended stream (both were dropped, and the answer's playlist 404'd)."""
    from gradio.route_utils import MediaStream

    from oracle.web.gradio_adapter.memory import FirstSeen, forget_finished_requests

    demo, seen = gr.Blocks(), FirstSeen()
    runs = demo.pending_streams["visit"]
    runs[1] = {}  # the first chunk is being encoded
    runs[2] = {7: MediaStream()}  # an answer being spoken...
    for _ in range(2):
        forget_finished_requests(demo, seen, max_age=0.0, longest_stream_s=60.0)
        time.sleep(0.02)
    assert 1 in demo.pending_streams["visit"], "a run whose first chunk is being encoded was dropped"
    runs[2] = {7: MediaStream()}  # ...and a new one, from a generator at the same address
    forget_finished_requests(demo, seen, max_age=0.01, longest_stream_s=0.0)
    assert 2 in demo.pending_streams["visit"], "a new answer inherited the age of the one it replaced"
    runs[2][7].ended = True
    time.sleep(0.02)
    forget_finished_requests(demo, seen, max_age=0.01, longest_stream_s=0.0)
    assert 2 not in demo.pending_streams["visit"], "an ended answer is kept for ever"
