"""Every Gradio internal the app relies on (``oracle/web/gradio_internals.py``) is still there and still
behaves as that module expects. On a Gradio upgrade this file fails first, naming what moved."""

from __future__ import annotations

import asyncio
import inspect
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import numpy as np
import pytest

from oracle.audio import wav_bytes
from harness import gradio_probes
from oracle.web import gradio_internals


def run(coroutine):
    """Run ``coroutine`` to its end on a fresh event loop in its own thread (a browser test's Playwright
    keeps a loop running in this one)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result(timeout=60)


def test_gradio_is_the_version_the_adapter_was_written_for():
    assert gr.__version__ == gradio_internals.TESTED_GRADIO_VERSION, (
        f"Gradio {gr.__version__} is installed; read oracle/web/gradio_internals.py against it, then "
        f"update TESTED_GRADIO_VERSION")
    assert gradio_internals.check_gradio_version()


def test_the_queue_and_stream_records_it_sweeps_are_where_it_looks(served_demo):
    queue = served_demo._queue
    for name in ("event_queue_per_concurrency_id", "active_jobs", "event_analytics", "event_ids_to_events",
                 "event_count_at_last_cache", "max_size"):
        assert hasattr(queue, name), f"gradio's queue has no {name} any more"
    assert isinstance(served_demo.pending_streams, dict)
    assert isinstance(served_demo.upload_file_set, set)
    assert gradio_internals.forget_finished_requests(served_demo, {}, 10_000, 60) == 0
    assert {event.api_name for event in gradio_probes.event_limits(served_demo)} >= {
        "ask", "ask_text", "speak", "consult"}


def test_examples_expose_the_event_that_loads_them():
    with gr.Blocks():
        box = gr.Textbox()
        examples = gr.Examples([["Will it rain?"]], inputs=[box])
        assert hasattr(gradio_internals.examples_loaded(examples), "then")


def test_audio_moves_files_through_the_method_that_refuses_urls():
    assert inspect.iscoroutinefunction(gr.Audio.async_move_resource_to_block_cache)
    with gr.Blocks() as demo:
        gr.Audio(sources=["upload"], type="filepath")
    gradio_internals.refuse_urls_as_audio(demo, "no links")
    audio = next(block for block in demo.blocks.values() if isinstance(block, gr.Audio))
    with pytest.raises(gr.Error, match="no links"):
        run(audio.async_move_resource_to_block_cache("https://example.com/question.wav"))


def test_a_streamed_segment_has_the_shape_gradio_audio_gives_it():
    tone = (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16)
    stock = run(gr.Audio(streaming=True).stream_output(wav_bytes(tone, 16000), "s/1/2/playlist.m3u8", True))
    ours = gradio_internals.aac_stream_segment(b"aac", 0.5, "s/1/2/playlist.m3u8")
    assert set(ours[0]) == set(stock[0]) and ours[0]["extension"] == stock[0]["extension"]
    assert ours[1] == stock[1]


def test_a_subclass_of_audio_is_configured_as_audio():
    from oracle.web.speech_stream import SpeechStream

    config = gradio_internals.audio_config(SpeechStream(label="voice", autoplay=True))
    assert config["label"] == "voice" and config["autoplay"] is True and config["streaming"] is True


def test_the_theme_keeps_each_light_value_beside_its_dark_twin():
    theme = gradio_internals.dark_only(gr.themes.Default().set(body_background_fill_dark="#010203"))
    assert theme.body_background_fill == "#010203"


def test_files_saved_to_the_cache_are_wav_files_where_gradio_serves_uploads():
    from gradio.utils import get_upload_folder

    path = gradio_internals.save_wav_to_cache(np.zeros(1600, dtype=np.int16), 16000, "oracle-answer-0.wav")
    assert path.startswith(str(get_upload_folder())) and path.endswith(".wav")
    with open(path, "rb") as wav:
        assert wav.read(4) == b"RIFF"


def test_the_server_defences_find_what_they_reach_into(served_demo):
    """oracle/web/gradio_internals.py, "the server's defences" section (issue 10)."""
    import gradio.queueing
    import gradio.utils

    queue = served_demo._queue
    assert list(inspect.signature(queue.push).parameters) == ["body", "request", "username"]
    for name in ("delete_lock", "send_message", "pending_messages_per_session"):
        assert hasattr(queue, name), f"gradio's queue has no {name} any more"
    holder = served_demo.state_holder
    assert isinstance(holder.session_data, dict) and isinstance(holder.time_last_used, dict)
    assert holder.lock is not None and served_demo.state_session_capacity > 0
    assert inspect.iscoroutinefunction(served_demo.preprocess_data)
    assert isinstance(served_demo.server_app.iterators, dict)
    assert "iterator" in inspect.signature(gradio.utils.SyncToAsyncIterator).parameters
    assert callable(gradio.queueing.error_payload)
    assert gradio_internals.work_in_progress(served_demo) == (0, 0)


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
    gradio_internals.forget_failed_generators(demo)
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


def test_installing_the_defences_twice_changes_nothing():
    """Every patch is installed once: a second ``protect`` (a test, a reload) must not wrap Gradio twice."""
    from oracle.web.defences import protect

    with gr.Blocks() as demo:
        gr.Audio(sources=["upload"], type="filepath")
    demo.queue()
    protect(demo)
    audio = next(block for block in demo.blocks.values() if isinstance(block, gr.Audio))
    installed = (demo.process_api, demo.preprocess_data, demo._queue.push, audio.async_move_resource_to_block_cache,
                 demo.handle_streaming_outputs)
    protect(demo)
    again = (demo.process_api, demo.preprocess_data, demo._queue.push, audio.async_move_resource_to_block_cache,
             demo.handle_streaming_outputs)
    assert again == installed


def _voice_and_words_demo(speak):
    """A page with a streamed voice and a line of words, both updated by the generator ``speak``."""
    from oracle.web.speech_stream import SpeechStream

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
    gradio_internals.keep_streamed_values_whole(demo)
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
    tone = (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16)
    demo = _voice_and_words_demo(lambda voice, words: iter(()))  # only its outputs are used
    gradio_internals.keep_streamed_values_whole(demo)
    block_fn = next(iter(demo.fns.values()))
    voice_id = block_fn.outputs[0]._id
    session, run_id = "reused-address", 12345

    def step(value, final=False):
        return run(demo.handle_streaming_outputs(block_fn, [value, "words"], session_hash=session, run=run_id,
                                                 final=final))

    step((16000, tone))
    step(None, final=True)
    assert demo.pending_streams[session][run_id][voice_id].ended
    step((16000, tone))  # the next answer's generator, at the same address
    stream = demo.pending_streams[session][run_id][voice_id]
    assert not stream.ended and len(stream.segments) == 1, "the new answer was added to the old, ended stream"


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
    from oracle.web.speech_stream import SpeechStream

    rate = 22050
    tone = (np.sin(np.arange(rate) / 3) * 8000).astype(np.int16)
    chunk = np.concatenate([np.zeros(int(0.3 * rate), dtype=np.int16), tone])
    voice = SpeechStream(label="voice")
    first, _playlist = run(voice.stream_output((rate, chunk), "s/1/2/playlist.m3u8", True))
    later, _playlist = run(voice.stream_output((rate, chunk), "s/1/2/playlist.m3u8", False))
    assert _sound_onset_s(first["data"], rate) < 0.08
    assert first["duration"] == pytest.approx(1.01, abs=0.01)
    assert _sound_onset_s(later["data"], rate) > 0.3
