"""The oracle without Gradio: hear, answer and speak end to end, and its errors."""

import numpy as np
import pytest

from oracle.errors import BadAudio, EmptyQuestion, NoAudio, NoSpeech
from oracle.limits import MAX_QUESTION_CHARS
from oracle.pipeline import clean_question
from harness.hearing import CLEAR_QUESTION, assert_heard


def test_a_spoken_question_is_heard_and_answered_with_a_proverb(oracle, speech):
    reply = oracle.ask(str(speech.say(*CLEAR_QUESTION)))
    assert_heard(reply.question, CLEAR_QUESTION.text)
    assert reply.answer in {p.text for p in oracle.answerer.proverbs}
    assert reply.hear_ms > 0 and reply.answer_ms > 0


def test_a_typed_question_is_answered(oracle):
    reply = oracle.ask_text("  Will I pass my exam?  ")
    assert reply.question == "Will I pass my exam?"
    assert reply.typed and reply.hear_ms == 0.0 and reply.language == "en"
    assert reply.answer in {p.text for p in oracle.answerer.proverbs}


def test_the_spoken_answer_is_the_whole_voice_in_int16(oracle):
    data = oracle.speak_all("Patience is a virtue.")
    assert data.dtype == np.int16 and data.ndim == 1
    assert 0.8 < data.size / oracle.sample_rate < 4.0
    assert np.abs(data).max() > 3000


def test_noise_is_not_sent_to_whisper(oracle, speech):
    calls = []
    real = oracle.transcriber.transcribe
    oracle.transcriber.transcribe = lambda audio: calls.append(audio) or real(audio)
    try:
        noise = speech.write("noise.wav", 0.2 * np.random.default_rng(2).standard_normal(48000), 16000)
        with pytest.raises(NoSpeech):
            oracle.ask(str(noise))
    finally:
        del oracle.transcriber.transcribe
    assert calls == []


def test_errors_reach_the_caller_as_oracle_errors(oracle, tmp_path):
    with pytest.raises(NoAudio):
        oracle.ask(None)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio" * 100)
    with pytest.raises(BadAudio):
        oracle.ask(str(junk))
    with pytest.raises(EmptyQuestion):
        oracle.ask_text("   ")


def test_very_long_transcripts_are_cut_before_the_answerer():
    question = clean_question("why " * 500)
    assert len(question) <= MAX_QUESTION_CHARS + 1


def test_nothing_to_speak_yields_no_audio(oracle):
    assert list(oracle.speak("")) == []
