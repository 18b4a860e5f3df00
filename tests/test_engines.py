"""Each embedded engine on its own, with real weights and real audio."""

import numpy as np
import pytest

from oracle.audio import load_question
from oracle.vad import has_speech
from harness.audio_tools import rms
from harness.hearing import HEARING_SET, PIPER_HEARING_SET, assert_heard, word_error_rate
from oracle.languages import ENGLISH


# ---- hearing ----

def heard(oracle, path) -> str:
    return oracle.transcriber.transcribe(load_question(path)).text


def test_whisper_hears_a_set_of_voices_and_speeds(oracle, speech):
    """espeak-ng in several voices and speeds, and the Piper voice: the word error rate over the set
    (0.0 on every CPU kernel; see harness.hearing), and no recording lost."""
    recordings = ([(question.text, speech.say(*question)) for question in HEARING_SET]
                  + [(text, speech.speak_with(oracle.speaker, text)) for text in PIPER_HEARING_SET])
    pairs = [(said, heard(oracle, path)) for said, path in recordings]
    assert word_error_rate(pairs) <= 0.1, pairs
    for said, text in pairs:
        assert_heard(text, said, at_least=0.5)


def test_vad_tells_speech_from_noise_and_silence(speech):
    rng = np.random.default_rng(1)
    assert has_speech(load_question(speech.say("What does the future hold?")))
    assert not has_speech(np.zeros(32000, dtype=np.float32))
    assert not has_speech((0.2 * rng.standard_normal(48000)).astype(np.float32))
    hum = 0.3 * np.sin(2 * np.pi * 50 * np.arange(48000) / 16000)
    assert not has_speech(hum.astype(np.float32))


# ---- speaking ----

def test_piper_streams_int16_chunks_one_per_sentence(oracle):
    chunks = list(oracle.speaker.stream("Look before you leap. Fortune favours the bold.", ENGLISH))
    assert oracle.speaker.sample_rate == 22050
    assert len(chunks) == 2
    assert all(chunk.dtype == np.int16 and chunk.ndim == 1 for chunk in chunks)
    assert all(0.5 < chunk.size / 22050 < 4.0 for chunk in chunks)


def test_piper_keeps_one_loudness_and_clean_joins(oracle):
    chunks = list(oracle.speaker.stream("Still waters run deep. Haste makes waste. Every cloud has a silver lining.", ENGLISH))
    loudness = [rms(chunk.astype(np.float32) / 32768) for chunk in chunks]
    # Per-chunk peak normalisation would push every chunk to full scale; one fixed gain does not.
    assert max(np.abs(chunk).max() for chunk in chunks) < 32767
    assert max(loudness) / min(loudness) < 2.0, loudness
    for chunk in chunks:
        assert abs(int(chunk[0])) < 200 and abs(int(chunk[-1])) < 200


def test_piper_speaks_long_sentences_clause_by_clause(oracle):
    text = "When the wind of change blows, some build walls, while others build windmills and grind their corn."
    assert len(list(oracle.speaker.stream(text, ENGLISH))) >= 2


def test_piper_handles_text_without_words(oracle):
    assert list(oracle.speaker.stream("...", ENGLISH)) == []


# ---- answering ----

def test_book_holds_hundreds_of_proverbs(oracle):
    assert len(oracle.answerer.proverbs) >= 300


@pytest.mark.parametrize("question, tag", [
    ("Should I save my money or spend it on a new car?", "money"),
    ("Will she ever love me back?", "love"),
    ("Should I quit my job and start my own business?", "work"),
    ("Is it time to move to another country?", "travel"),
])
def test_book_finds_proverbs_that_fit_the_question(oracle, question, tag):
    found = oracle.answerer.retrieve(question, k=8)
    assert any(tag in p.tags or tag in p.gloss.lower() for p in found), [p.text for p in found]


def test_book_answers_one_question_always_alike_and_others_vary(oracle):
    """The draw among the best matches is seeded by the question's words: an answer prepared while a question
    is still being spoken is the answer the finished question gets (oracle.conversation)."""
    assert len({oracle.answerer.answer("Should I buy a boat?", ENGLISH) for _ in range(10)}) == 1
    questions = ["Should I buy a boat?", "Should I buy a sailing boat?", "Should I buy a small boat?",
                 "Should I buy a boat this year?", "Shall I buy a boat?", "Is buying a boat wise?"]
    answers = {oracle.answerer.answer(question, ENGLISH) for question in questions}
    assert len(answers) >= 2
    texts = {p.text for p in oracle.answerer.proverbs}
    assert answers <= texts


@pytest.mark.parametrize("nonsense", ["asdf qwerty zxcvb", "blorp fnarg wibble snerk?", "!!! ???", "12345 678"])
def test_book_meets_nonsense_with_the_foolish_answer(oracle, nonsense):
    assert oracle.answerer.answer(nonsense, ENGLISH) == "Foolish questions get foolish answers."


def test_book_answers_real_questions_with_a_proverb(oracle):
    answer = oracle.answerer.answer("Will my team win the match on Sunday?", ENGLISH)
    assert answer != "Foolish questions get foolish answers."
    assert answer in {p.text for p in oracle.answerer.proverbs}
