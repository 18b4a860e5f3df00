"""The Space path through the real app: Inference API engines against a local server that speaks
its protocol, Parler-TTS from a tiny model loaded the real way, failover, and what ``auto`` picks."""

import logging
import time

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from oracle.config import Settings
from oracle.failover import FailoverAnswerer, FailoverSpeaker, FailoverTranscriber
from oracle.pipeline import Oracle
from harness.audio_tools import decode, fetch_stream, rms
from harness.server import free_port
from harness.fake_inference_api import DEFAULT_ANSWER, DEFAULT_TRANSCRIPT, FakeInferenceAPI
from tests.parler_fixtures import single_torch_thread, tiny_parler_dir  # noqa: F401  (pytest fixtures)
from oracle.languages import ENGLISH

TIMEOUT_S = 2.0
FAKE_TOKEN = "hf_space_path_test_token_0123456789"
QUESTION = "Should I move to a new city?"


@pytest.fixture(scope="module")
def api():
    with FakeInferenceAPI() as server:
        yield server


@pytest.fixture(scope="module")
def space_settings(api, tiny_parler_dir):
    return Settings(asr="remote", answerer="remote", tts="parler", asr_model=api.asr_url, llm_model=api.llm_url,
                    parler_model=str(tiny_parler_dir), hf_token=FAKE_TOKEN, request_timeout_s=TIMEOUT_S)


@pytest.fixture(scope="module")
def space_oracle(space_settings, oracle, single_torch_thread):
    """Space-path primaries with this session's warmed-up embedded engines as their backups."""
    from oracle.answer.remote import RemoteLLM
    from oracle.asr.remote import RemoteWhisper
    from oracle.speech.parler import ParlerSpeaker

    return Oracle(FailoverTranscriber(RemoteWhisper(space_settings), oracle.transcriber),
                  FailoverAnswerer(RemoteLLM(space_settings), oracle.answerer),
                  FailoverSpeaker(ParlerSpeaker(space_settings), oracle.speaker), space_settings)


@pytest.fixture(scope="module")
def space_client(space_oracle, tmp_path_factory):
    import app

    demo = app.build_demo(space_oracle, example_dir=tmp_path_factory.mktemp("examples"))
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    yield Client(url, verbose=False, download_files=False)
    demo.close()


@pytest.fixture(autouse=True)
def healthy(api, space_oracle):
    api.reset()
    api.behaviour = "ok"
    for engine in (space_oracle.transcriber, space_oracle.answerer, space_oracle.speaker):
        engine.health.recovered()


def test_the_app_hears_and_answers_through_the_inference_api(space_client, api, speech):
    question, answer = space_client.predict(handle_file(str(speech.say(QUESTION))), api_name="/ask")
    assert question == DEFAULT_TRANSCRIPT
    assert answer == DEFAULT_ANSWER
    asr, chat = api.requests_of("asr"), api.requests_of("chat")
    assert len(asr) == 1 and asr[0].body[:4] == b"RIFF"
    assert chat[0].bearer_token == FAKE_TOKEN
    assert chat[0].json["messages"][-1]["content"].endswith(DEFAULT_TRANSCRIPT)


def test_the_app_streams_parler_audio_through_speak(space_client, space_oracle):
    updates = list(space_client.submit("The early bird catches the worm.", api_name="/speak"))
    assert space_oracle.speaker.name == "parler"
    segments = fetch_stream(updates[-1]["url"])
    assert len(segments) >= 2, "a short first chunk, then more"
    audio = np.concatenate([decode(segment)[0] for segment in segments])
    assert audio.size > 0.5 * 16000 and rms(audio) > 0


def test_a_spanish_question_asked_aloud_on_the_space_is_answered_in_spanish(space_client, api, speech):
    """With auto, the Inference API hears the question but does not say its language: it is read from the
    words, and the language model is asked for a Spanish proverb; with "es", the hearing service is told."""
    api.transcript = "¿Debería mudarme a otra ciudad el año que viene?"
    api.answer = "Quien se fue a Sevilla perdió su silla."
    try:
        question, answer = space_client.predict(handle_file(str(speech.say(QUESTION))), api_name="/ask")
        assert (question, answer) == (api.transcript, api.answer)
        [chat] = api.requests_of("chat")
        assert "The question is in Spanish" in chat.json["messages"][0]["content"]
        api.reset()
        space_client.predict(handle_file(str(speech.say(QUESTION))), "es", api_name="/ask")
        [asr] = api.requests_of("asr")
        assert asr.json["parameters"] == {"generate_kwargs": {"language": "es"}}
    finally:
        api.transcript, api.answer = DEFAULT_TRANSCRIPT, DEFAULT_ANSWER


@pytest.mark.parametrize("behaviour", ["500", "hang", "malformed", "401"])
def test_a_failing_inference_api_hands_over_to_the_embedded_engines(space_client, space_oracle, api, speech,
                                                                     behaviour):
    api.behaviour = behaviour
    api.retry_after = "0"
    start = time.perf_counter()
    question, answer = space_client.predict(handle_file(str(speech.say(QUESTION))), api_name="/ask")
    # Each remote call is bounded by its deadline (2x the timeout); then the embedded engines answer.
    assert time.perf_counter() - start < 2 * (2 * TIMEOUT_S) + 5
    assert "city" in question.lower()
    assert answer in {p.text for p in space_oracle.answerer.backup.proverbs}
    assert "backup for remote" in space_oracle.engine_names
    # While the primaries cool down, the next request goes straight to the backups.
    requests_before = len(api.requests)
    space_client.predict("Will it be sunny?", api_name="/ask_text")
    assert len(api.requests) == requests_before


def test_a_crashing_voice_before_any_audio_hands_over_to_piper(space_oracle):
    speaker = space_oracle.speaker
    speaker.primary.model, model = None, speaker.primary.model  # the GPU worker died with its weights
    try:
        chunks = list(space_oracle.speak("Still waters run deep.", ENGLISH))
    finally:
        speaker.primary.model = model
    assert chunks and all(chunk.dtype == np.int16 for chunk in chunks)
    assert speaker.name == "piper (backup for parler)"
    assert sum(chunk.size for chunk in chunks) / speaker.sample_rate > 0.8


def test_no_token_error_or_traceback_reaches_the_client(space_client, api):
    api.behaviour = "401"
    answer = space_client.predict("Should I trust my neighbour?", api_name="/ask_text")
    assert FAKE_TOKEN not in answer
    with pytest.raises(AppError) as caught:
        space_client.predict("   ", api_name="/ask_text")
    assert FAKE_TOKEN not in str(caught.value) and "Traceback" not in str(caught.value)


def test_auto_picks_the_embedded_engines_on_a_machine_without_token_or_gpu(caplog):
    from oracle.selection import resolve_auto

    caplog.set_level(logging.INFO, logger="oracle.selection")
    settings = Settings(hf_token=None)
    assert [resolve_auto(kind, settings) for kind in ("asr", "answerer", "tts")] == ["local", "book", "piper"]
    assert "no HF_TOKEN" in caplog.text and "no GPU" in caplog.text


def test_auto_prefers_the_inference_api_when_a_token_is_set(space_settings):
    from oracle.selection import choose

    answerer = choose("answerer", "auto", space_settings)
    assert isinstance(answerer, FailoverAnswerer)
    assert (answerer.primary.name, answerer.backup.name) == ("remote", "book")


def test_an_engine_that_cannot_load_is_replaced_by_its_backup_at_start(tmp_path, caplog):
    from oracle.selection import choose

    caplog.set_level(logging.WARNING, logger="oracle.selection")
    speaker = choose("tts", "parler", Settings(parler_model=str(tmp_path / "no-such-model")))
    assert speaker.name == "piper"
    assert "'parler' is unavailable" in caplog.text
