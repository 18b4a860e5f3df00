"""The real app on 127.0.0.1, driven through every API endpoint with the real gradio_client."""

import io
import time

import numpy as np
import pytest
import soundfile
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from harness.audio_tools import decode, fetch_stream, rms
from harness.hearing import CLEAR_QUESTION, assert_heard


def test_ask_hears_and_answers_a_spoken_question(client, speech, oracle):
    question, answer = client.predict(handle_file(str(speech.say(*CLEAR_QUESTION))), api_name="/ask")
    assert_heard(question, CLEAR_QUESTION.text)
    assert answer in {p.text for p in oracle.answerer.proverbs}


def test_ask_text_answers_a_typed_question(client, oracle):
    answer = client.predict("Will my garden grow this summer?", api_name="/ask_text")
    assert answer in {p.text for p in oracle.answerer.proverbs}


def test_speak_streams_playable_audio_segment_by_segment(client):
    text = "Look before you leap. Fortune favours the bold. Time will tell."
    job = client.submit(text, api_name="/speak")
    updates = list(job)
    assert job.status().success
    assert updates, "no stream updates"
    segments = fetch_stream(updates[-1]["url"])
    assert len(segments) == 3, "one segment per sentence"
    audio = np.concatenate([decode(segment)[0] for segment in segments])
    assert 2.5 < audio.size / 16000 < 9.0
    assert rms(audio) > 0.02


def test_speak_plays_an_answer_that_fits_in_one_chunk(client):
    updates = list(client.submit("Yes.", api_name="/speak"))
    segments = fetch_stream(updates[-1]["url"])
    assert len(segments) == 1
    assert decode(segments[0])[0].size > 0.2 * 16000


def test_consult_returns_question_answer_and_the_whole_spoken_answer(downloading_client, speech, oracle):
    question, answer, wav_path = downloading_client.predict(handle_file(str(speech.say(*CLEAR_QUESTION))),
                                                            api_name="/consult")
    assert_heard(question, CLEAR_QUESTION.text)
    assert answer in {p.text for p in oracle.answerer.proverbs}
    data, rate = soundfile.read(wav_path, dtype="int16")
    assert rate == oracle.sample_rate and data.size / rate > 0.8


@pytest.mark.parametrize("make_input, message", [
    (lambda speech, tmp: None, "record a question first"),
    (lambda speech, tmp: _write(tmp / "empty.wav", b""), "Couldn't read that audio"),
    (lambda speech, tmp: _write(tmp / "notes.wav", b"these are my notes " * 50), "Couldn't read that audio"),
    (lambda speech, tmp: speech.write("quiet.wav", np.zeros(32000, dtype=np.float32), 16000), "No question heard"),
    (lambda speech, tmp: speech.write("short.wav", 0.3 * np.sin(np.arange(3200) / 4), 16000), "too short"),
])
def test_bad_recordings_get_a_friendly_error_and_the_app_stays_healthy(client, speech, tmp_path, make_input,
                                                                        message):
    path = make_input(speech, tmp_path)
    start = time.perf_counter()
    with pytest.raises(AppError, match=message):
        client.predict(handle_file(str(path)) if path else None, api_name="/ask")
    assert time.perf_counter() - start < 10
    assert client.predict("Is the app still healthy?", api_name="/ask_text")


def test_empty_typed_question_and_empty_speech_get_friendly_errors(client):
    with pytest.raises(AppError, match="type a question"):
        client.predict("   ", api_name="/ask_text")
    with pytest.raises(AppError, match="nothing to speak"):
        client.submit("", api_name="/speak").result()


def test_api_lists_exactly_the_documented_endpoints(client):
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert endpoints == {"/ask", "/ask_text", "/speak", "/consult"}


def _write(path, content: bytes):
    path.write_bytes(content)
    return path
