"""Windows fitted to the question (oracle/asr/windows.py) with the real models and real recordings: the
fitting itself, the encoder really given the fitted window, the full window heard exactly as faster-whisper
hears it, a real loop caught and heard again in the full window, and auto hearing that tells English in
a French browser and Spanish in an English one.

Word error and speed on real human speech are measured by benchmarks/hearing_human.py, not here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from harness.hearing import assert_heard
from harness.multilingual_audio import QUESTIONS, overlap, samples
from oracle.asr import multilingual, windows
from oracle.asr.windows import FULL_WINDOW, FULL_WINDOW_FRAMES, Window, WindowedWhisper
from oracle.audio import load_question

PIANO = Path(__file__).resolve().parents[1] / "docs" / "question.wav"  # Piper: "Should I learn to play the piano?"
PIANO_TEXT = "Should I learn to play the piano?"


@pytest.fixture(scope="module")
def hearing():
    from oracle.asr.local import LocalWhisper

    return LocalWhisper()


@pytest.fixture(scope="module")
def piano():
    return load_question(str(PIANO))


@pytest.fixture(scope="module")
def speech_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("window-speech")


# -- fitting ----------------------------------------------------------------------------------------

def test_a_window_is_the_floor_or_the_audio_plus_its_margin_and_never_over_30_s():
    window = Window(floor_s=10.0, margin_s=2.0)
    assert window.frames(3.0) == 1000  # the floor
    assert window.frames(9.5) == 1150  # the audio plus its margin
    assert window.frames(29.0) == FULL_WINDOW_FRAMES  # capped at 30 s
    assert Window(floor_s=5.0, margin_s=1.0).frames(6.005) == 702  # rounded up, to an even frame count
    assert FULL_WINDOW.frames(1.0) == FULL_WINDOW_FRAMES and not FULL_WINDOW.fitted


def test_the_token_bound_grows_with_the_audio_up_to_whispers_own():
    assert windows.new_token_bound(0.5) == windows.MIN_NEW_TOKENS + 6
    assert windows.new_token_bound(3.0) == windows.MIN_NEW_TOKENS + 36
    assert windows.new_token_bound(3600.0) == windows.MAX_NEW_TOKENS


def test_the_encoder_is_given_the_fitted_window_only(hearing, piano):
    english = hearing._english
    encoded = english.encode(piano)
    assert encoded.frames == english.window.frames(piano.size / 16_000) < FULL_WINDOW_FRAMES
    assert encoded.output.shape[1] == encoded.frames // 2  # the encoder halves the frames
    assert english.encode(piano, FULL_WINDOW).output.shape[1] == FULL_WINDOW_FRAMES // 2
    detection = hearing.multilingual.encode(piano)  # the window languages are told from
    assert detection.frames == multilingual.DETECTION_WINDOW.frames(piano.size / 16_000) < FULL_WINDOW_FRAMES
    assert detection.output.shape[1] == detection.frames // 2


def test_the_full_window_hears_exactly_what_faster_whisper_hears(hearing, piano, speech):
    full = WindowedWhisper(hearing._model, FULL_WINDOW)
    for audio in (piano, load_question(str(speech.say("Will my garden grow this summer?")))):
        segments, _ = hearing._model.transcribe(audio, language="en", beam_size=1, temperature=0.0,
                                                without_timestamps=True, condition_on_previous_text=False,
                                                vad_filter=False)
        expected = " ".join(segment.text.strip() for segment in segments).strip()
        assert full.hear(audio, hearing._english_tokenizer).text == expected


# -- loops ---------------------------------------------------------------------------------------------

def test_the_loop_check_tells_a_loop_from_a_question():
    assert windows.repeats_itself([5, 7, 7, 7])  # one token three times
    assert windows.repeats_itself([1, 2, 3, 4, 5, 1, 2, 3, 4, 5])  # a phrase twice
    assert not windows.repeats_itself([1, 2, 1, 3, 4, 5, 6, 7])
    assert not windows.repeats_itself([9, 9])  # a short run twice is still a question ("no, no")
    assert windows.loop_reason("Will I pass?", [1, 2, 3], bound=3).startswith("ran into the bound")
    assert windows.loop_reason("Will I pass my exam?", [1, 2, 3, 4, 5], bound=30) is None
    looping = "Should I go? " * 12
    assert windows.loop_reason(looping, list(range(20)), bound=100).startswith("compresses")


def test_a_window_that_loops_is_heard_again_in_the_full_window(hearing, piano, caplog):
    # No floor and no margin: the window ends with the speech, and tiny.en says the question again and
    # again ("Should I learn to play the piano? Should I learn to play the piano? Should I lea…").
    tight = WindowedWhisper(hearing._model, Window(floor_s=0.0, margin_s=0.0))
    tokenizer = hearing._english_tokenizer
    encoded = tight.encode(piano)
    looped, tokens = tight.decode(encoded, tokenizer)
    assert windows.loop_reason(looped, tokens, windows.new_token_bound(encoded.audio_s)) is not None, looped

    heard = tight.hear(piano, tokenizer)
    assert heard.fell_back is not None and heard.frames == FULL_WINDOW_FRAMES
    full = WindowedWhisper(hearing._model, FULL_WINDOW).hear(piano, tokenizer)
    assert heard.text == full.text
    assert_heard(heard.text, PIANO_TEXT)
    assert heard.text.lower().count("piano") == 1

    # And LocalWhisper logs it when its own window falls back.
    chosen = hearing._english.window
    hearing._english.window = tight.window
    try:
        with caplog.at_level(logging.INFO, logger="oracle.asr.local"):
            assert hearing.transcribe(piano, "en").text == full.text
    finally:
        hearing._english.window = chosen
    assert any("heard again with the full window" in record.getMessage() for record in caplog.records)


def test_the_chosen_windows_hear_the_piano_question_once(hearing, piano):
    heard = hearing._english.hear(piano, hearing._english_tokenizer)
    assert heard.fell_back is None and heard.frames < FULL_WINDOW_FRAMES
    assert_heard(heard.text, PIANO_TEXT)


def test_a_quiet_room_is_heard_as_nothing(hearing):
    # A microphone's noise floor, not digital zeros: those never reach hearing (the pipeline's VAD refuses
    # them first), and tiny.en hears "you" in 2 s of exact zeros padded with silence.
    rng = np.random.default_rng(7)
    for level_db in (-60, -40):
        room = (rng.standard_normal(16_000 * 2) * 10 ** (level_db / 20)).astype(np.float32)
        assert hearing.transcribe(room, "en").text == ""
        assert hearing.multilingual.transcribe(room, "es").text == ""
        assert hearing.multilingual.transcribe(room, "fr").text == ""


def test_audio_longer_than_one_window_is_heard_window_by_window(hearing, piano):
    long = np.concatenate([piano, np.zeros(16_000 * 29, dtype=np.float32), piano])
    heard = hearing.transcribe(long, "en").text
    assert heard.lower().count("piano") == 2, heard


# -- auto -------------------------------------------------------------------------------------------

def test_english_in_a_french_browser_is_heard_as_english_by_tiny_en(hearing, piano):
    assert hearing.multilingual.detect_language(piano, hint="fr").language == "en"
    heard = hearing.transcribe(piano, None, "fr")
    assert heard.language == "en"
    assert heard.text == hearing.transcribe(piano, "en").text  # tiny.en heard it, as when English is given
    assert_heard(heard.text, PIANO_TEXT)


def test_english_heard_while_detecting_is_heard_alike(hearing, piano):
    together = hearing.hear_english_while_detecting
    try:
        hearing.hear_english_while_detecting = not together
        other_way = hearing.transcribe(piano, None, "fr")
    finally:
        hearing.hear_english_while_detecting = together
    assert other_way.language == "en" and other_way.text == hearing.transcribe(piano, "en").text


@pytest.mark.parametrize("question", QUESTIONS["es"], ids=lambda q: q.text)
def test_spanish_in_an_english_browser_is_heard_as_spanish(hearing, speech_folder, question):
    audio = samples(question, speech_folder)
    assert hearing.multilingual.detect_language(audio, hint="en").language == "es"
    heard = hearing.transcribe(audio, None, "en")
    assert heard.language == "es"
    assert overlap(question, heard.text) >= 0.6, heard.text
