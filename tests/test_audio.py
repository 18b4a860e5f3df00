"""Every recording a browser, a script or a person can send: one format out, or one clear error."""

import numpy as np
import pytest

from oracle.audio import SAMPLE_RATE, load_question, wav_bytes
from oracle.errors import BadAudio, NoAudio, NoSpeech, TooShort

QUESTION = "Should I take the new job offer?"


@pytest.fixture(scope="module")
def question_wav(speech):
    return speech.say(QUESTION)


def test_a_spoken_question_becomes_mono_16khz_float32(question_wav):
    audio = load_question(question_wav)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 1.0 < audio.size / SAMPLE_RATE < 4.0
    assert 0.05 < np.abs(audio).max() <= 1.0


@pytest.mark.parametrize("suffix, ffmpeg_args", [
    (".wav", ("-ar", "8000", "-ac", "2")),
    (".wav", ("-ar", "48000", "-c:a", "pcm_s32le")),
    (".mp3", ("-ar", "44100",)),
    (".ogg", ("-c:a", "libvorbis")),
    (".webm", ("-c:a", "libopus")),
    (".flac", ("-ar", "96000")),
    (".m4a", ("-c:a", "aac")),  # a phone's recording: its index (moov) after the audio, so read by seeking
    (".m4a", ("-c:a", "aac", "-movflags", "+faststart")),
    (".aac", ("-c:a", "aac")),
    (".aiff", ("-ar", "44100")),
    (".caf", ("-c:a", "pcm_s16le")),
])
def test_other_rates_channels_and_codecs_are_resampled(speech, question_wav, suffix, ffmpeg_args):
    reference = load_question(question_wav)
    audio = load_question(speech.convert(question_wav, suffix, *ffmpeg_args))
    # Codec padding may add a few tens of milliseconds; the length must otherwise match.
    assert abs(audio.size - reference.size) < 0.1 * SAMPLE_RATE
    assert np.abs(audio).max() > 0.05


def test_no_recording_asks_to_record_first():
    with pytest.raises(NoAudio, match="record a question first"):
        load_question(None)
    with pytest.raises(NoAudio):
        load_question("")


@pytest.mark.parametrize("content", [b"", b"this is not audio at all " * 40, b"RIFF\x24\x00\x00\x00WAVEfmt "])
def test_unreadable_files_get_one_friendly_error(tmp_path, content):
    path = tmp_path / "question.wav"
    path.write_bytes(content)
    with pytest.raises(BadAudio, match="Couldn't read that audio"):
        load_question(path)


def test_a_header_only_wav_is_unreadable(tmp_path, question_wav):
    path = tmp_path / "header-only.wav"
    path.write_bytes(question_wav.read_bytes()[:44])
    with pytest.raises(BadAudio):
        load_question(path)


def test_a_missing_file_is_unreadable(tmp_path):
    with pytest.raises(BadAudio):
        load_question(tmp_path / "nowhere.wav")


def test_a_truncated_recording_keeps_what_arrived(tmp_path, question_wav):
    data = question_wav.read_bytes()
    path = tmp_path / "truncated.wav"
    path.write_bytes(data[: len(data) // 2])
    full = load_question(question_wav)
    audio = load_question(path)
    assert 0.3 * full.size < audio.size < 0.7 * full.size


def test_under_the_minimum_length_is_too_short(speech):
    path = speech.write("blip.wav", 0.3 * np.sin(np.arange(4000) / 5).astype(np.float32), SAMPLE_RATE)
    with pytest.raises(TooShort, match="too short"):
        load_question(path)


def test_digital_silence_is_no_question(speech):
    path = speech.write("silence.wav", np.zeros(2 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    with pytest.raises(NoSpeech, match="No question heard"):
        load_question(path)


def test_a_long_recording_is_cut_to_the_maximum(speech):
    path = speech.write("long.wav", 0.1 * np.random.default_rng(0).standard_normal(45 * SAMPLE_RATE), SAMPLE_RATE)
    assert load_question(path, max_seconds=30).size == 30 * SAMPLE_RATE


def test_nan_and_inf_samples_are_zeroed(speech, question_wav):
    audio = load_question(question_wav)
    broken = audio.copy()
    broken[::50] = np.nan
    broken[1::97] = np.inf
    path = speech.write("nan.wav", broken, SAMPLE_RATE, subtype="FLOAT")
    loaded = load_question(path)
    assert np.isfinite(loaded).all()
    assert np.abs(loaded).max() <= 1.0


def test_all_nan_recording_is_no_question(speech):
    path = speech.write("all-nan.wav", np.full(SAMPLE_RATE, np.nan, dtype=np.float32), SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(NoSpeech):
        load_question(path)


def test_wav_bytes_round_trip():
    import io

    import soundfile

    samples = (np.sin(np.arange(22050) / 10) * 10000).astype(np.int16)
    data, rate = soundfile.read(io.BytesIO(wav_bytes(samples, 22050)), dtype="int16")
    assert rate == 22050
    np.testing.assert_array_equal(data, samples)


def test_aac_encoding_keeps_the_length_and_the_sound():
    from oracle.audio import aac_from_samples
    from harness.audio_tools import decode, rms

    tone = (np.sin(2 * np.pi * 440 * np.arange(2 * 22050) / 22050) * 12000).astype(np.int16)
    aac = aac_from_samples(tone, 22050)
    assert aac[:2] == b"\xff\xf1"  # ADTS sync word: what the HLS player expects
    decoded, rate = decode(aac)
    assert abs(decoded.size / rate - 2.0) < 0.1
    assert rms(decoded) == pytest.approx(12000 / 32768 / np.sqrt(2), rel=0.15)
