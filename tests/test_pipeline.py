"""The oracle without Gradio: hear, answer and speak end to end, and its errors."""

import time

import numpy as np
import pytest

from oracle.errors import BadAudio, EmptyQuestion, NoAudio, NoSpeech
from oracle.limits import MAX_QUESTION_CHARS
from oracle.pipeline import Oracle, clean_question
from harness.fault_engines import WatchedAnswerer, WatchedTranscriber
from harness.hearing import CLEAR_QUESTION, assert_heard
from oracle.languages import ENGLISH


def test_a_spoken_question_is_heard_and_answered_with_a_proverb(oracle, speech):
    hearing, answering = WatchedTranscriber(oracle.transcriber), WatchedAnswerer(oracle.answerer)
    watched = Oracle(hearing, answering, oracle.speaker)
    question = str(speech.say(*CLEAR_QUESTION))
    started = time.perf_counter()
    reply = watched.ask(question)
    whole_ms = (time.perf_counter() - started) * 1000.0
    assert_heard(reply.question, CLEAR_QUESTION.text)
    assert reply.answer in {p.text for p in oracle.answerer.proverbs}
    assert not reply.typed and answering.questions == [reply.question]
    # Each timing is its own stage's, in milliseconds: it holds its engine's whole call (hearing: the
    # decoding too), and the two together are no more than the whole question took.
    [heard_ms], [answered_ms] = hearing.durations_ms, answering.durations_ms
    assert heard_ms <= reply.hear_ms, (heard_ms, reply.hear_ms)
    assert answered_ms <= reply.answer_ms, (answered_ms, reply.answer_ms)
    assert reply.hear_ms + reply.answer_ms <= whole_ms, (reply.hear_ms, reply.answer_ms, whole_ms)


def test_a_typed_question_is_answered(oracle):
    reply = oracle.ask_text("  Will I pass my exam?  ")
    assert reply.question == "Will I pass my exam?"
    assert reply.typed and reply.hear_ms == 0.0 and reply.language == "en"
    assert reply.answer in {p.text for p in oracle.answerer.proverbs}


def test_the_spoken_answer_is_the_whole_voice_in_int16(oracle):
    data = oracle.speak_all("Patience is a virtue.", ENGLISH)
    assert data.dtype == np.int16 and data.ndim == 1
    assert 0.8 < data.size / oracle.sample_rate < 4.0
    assert np.abs(data).max() > 3000


def test_noise_is_not_sent_to_whisper(oracle, speech):
    hearing = WatchedTranscriber(oracle.transcriber)
    watched = Oracle(hearing, oracle.answerer, oracle.speaker)
    noise = speech.write("noise.wav", 0.2 * np.random.default_rng(2).standard_normal(48000), 16000)
    with pytest.raises(NoSpeech):
        watched.ask(str(noise))
    assert hearing.heard == []


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
    assert list(oracle.speak("", ENGLISH)) == []
