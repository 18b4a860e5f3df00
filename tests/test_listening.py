"""Hearing a question while it streams in, without Gradio: real speech (Piper and espeak-ng), silences
inserted with numpy, fed in chunks the way a browser's microphone sends them, to the real VAD and the
real Whisper."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import soundfile
import soxr

from oracle.audio import SAMPLE_RATE
from oracle.endpointing import Endpointer
from oracle.errors import NoAudio, NoSound, NoSpeech, TooShort
from oracle.listening import Listening, as_float_mono

IDLE_TIMEOUT_S = 60
CHUNK_S = 0.1


def silence(seconds: float, rate: int) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.int16)


def piper(oracle, text: str) -> np.ndarray:
    """``text`` in the app's Piper voice: int16 at ``oracle.sample_rate`` (22.05 kHz)."""
    return oracle.speak_all(text)


def feed(listening: Listening, rate: int, samples: np.ndarray, chunk_s: float = CHUNK_S, wait: bool = True,
         on_chunk=None) -> None:
    """``samples`` in microphone-sized chunks; ``wait``: let the listener catch up after each one, as it
    would in real time (each test waits on the listener's state, never on the clock)."""
    step = max(1, int(chunk_s * rate))
    for start in range(0, len(samples), step):
        listening.add(rate, samples[start:start + step])
        if wait:
            assert listening.wait_idle(IDLE_TIMEOUT_S)
        if on_chunk is not None:
            on_chunk(start + step)


def to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    return soxr.resample(as_float_mono(samples), rate, SAMPLE_RATE).astype(np.float32)


def test_scoring_as_the_audio_arrives_gives_the_scores_of_one_pass(oracle):
    from faster_whisper.vad import get_vad_model

    rate = oracle.sample_rate
    audio = to_16k(np.concatenate([silence(0.3, rate), piper(oracle, "Will it rain tomorrow?"), silence(1, rate)]),
                   rate)
    audio = audio[: audio.size // 512 * 512]
    whole = get_vad_model()(audio).reshape(-1)
    endpointer = Endpointer()
    for start in range(0, audio.size, 777):  # chunks that are not whole windows
        endpointer.feed(audio[start:start + 777])
    # Silero's hysteresis over the scores of one pass: speech from 0.5, and on down to 0.35 once in speech.
    speech, in_speech = [], False
    for score in whole:
        in_speech = score >= 0.5 or (in_speech and score >= 0.35)
        speech.append(in_speech)
    speech_windows = np.nonzero(speech)[0]
    assert speech_windows.size > 15
    assert endpointer.heard_s == pytest.approx(audio.size / SAMPLE_RATE)
    assert endpointer.speech_s == pytest.approx(speech_windows.size * 512 / SAMPLE_RATE)
    assert endpointer.speech_end_sample == (speech_windows.max() + 1) * 512
    assert endpointer.silence_after_speech_s == pytest.approx((whole.size - 1 - speech_windows.max()) * 512 / SAMPLE_RATE)
    assert endpointer.silence_after_speech_s >= 0.9  # the second of silence at the end, less Piper's fade


@pytest.mark.parametrize("form", ["int16 stereo 48 kHz", "float32 mono 16 kHz", "int32 mono 44.1 kHz"])
def test_a_streamed_question_is_heard_in_any_form_the_browser_sends(oracle, form):
    rate = oracle.sample_rate
    spoken = np.concatenate([silence(0.3, rate), piper(oracle, "Should I take the new job?"), silence(1.0, rate)])
    target = {"int16 stereo 48 kHz": 48_000, "float32 mono 16 kHz": 16_000, "int32 mono 44.1 kHz": 44_100}[form]
    samples = soxr.resample(spoken.astype(np.float32) / 32768, rate, target)
    if form.startswith("int16"):
        samples = np.stack([samples, samples], axis=1)
        samples = (samples * 32767).astype(np.int16)
    elif form.startswith("int32"):
        samples = (np.clip(samples, -1, 1) * (2**31 - 1) * 0.99).astype(np.int32)
    else:
        samples = samples.astype(np.float32)
    listening = Listening(oracle)
    feed(listening, target, samples)
    assert listening.ended
    heard = listening.finish()
    assert "job" in heard.reply.question.lower()
    assert heard.reply.answer


def test_the_question_ends_after_the_pause_and_not_before(oracle):
    """Hands-free: no end while speaking; an end once ``end_of_speech_s`` of silence has passed."""
    rate = oracle.sample_rate
    spoken = piper(oracle, "Will I find love this year?")
    samples = np.concatenate([silence(0.3, rate), spoken, silence(2.0, rate)])
    speech_end = int(0.3 * rate) + spoken.size
    ended_at = []
    listening = Listening(oracle)
    feed(listening, rate, samples, on_chunk=lambda fed: listening.ended and ended_at.append(fed))
    assert ended_at, "the question never ended"
    silence_before_end = (ended_at[0] - speech_end) / rate
    # Piper's last word fades out before the file ends; the VAD may call the last ~0.2 s silence.
    assert oracle.settings.end_of_speech_s - 0.3 <= silence_before_end <= oracle.settings.end_of_speech_s + 0.5


@pytest.mark.parametrize("first, second", [
    ("Should I move to the city,", "or stay in my village?"),
    ("If I study every night,", "will I pass the exam?"),
])
def test_a_breath_in_the_middle_does_not_end_the_question(oracle, first, second):
    rate = oracle.sample_rate
    head = np.concatenate([silence(0.3, rate), piper(oracle, first), silence(0.3, rate)])
    samples = np.concatenate([head, piper(oracle, second), silence(1.5, rate)])
    ended_at = []
    listening = Listening(oracle)
    feed(listening, rate, samples, on_chunk=lambda fed: listening.ended and ended_at.append(fed))
    assert ended_at and ended_at[0] > head.size + rate * 0.5, "cut off on the breath"
    question = listening.finish().reply.question.lower()
    assert second.split()[-1].strip("?").lower() in question


def test_the_answer_prepared_during_the_pause_is_the_answer_and_its_voice(oracle):
    rate = oracle.sample_rate
    samples = np.concatenate([silence(0.3, rate), piper(oracle, "Is it a good time to buy a house?"),
                              silence(0.8, rate)])
    listening = Listening(oracle)
    feed(listening, rate, samples)
    heard = listening.finish()
    assert heard.speech is not None, "nothing was prepared during the pause"
    assert heard.reply.hear_ms is not None and heard.reply.answer_ms == 0.0
    # The same answer as a question asked afresh with these words, and all of it spoken: as many chunks as
    # a fresh stream, about as long (Piper draws its timing at random, so no two takes are equal).
    assert heard.reply.answer == oracle.answer(heard.reply.question)
    prepared = list(heard.speech.chunks())
    fresh = list(oracle.speak(heard.reply.answer))
    assert len(prepared) == len(fresh)
    assert sum(c.size for c in prepared) == pytest.approx(sum(c.size for c in fresh), rel=0.15)


def test_a_guess_made_at_a_breath_is_dropped_when_the_question_goes_on(oracle):
    rate = oracle.sample_rate
    samples = np.concatenate([silence(0.3, rate), piper(oracle, "Should I learn the guitar,"), silence(0.4, rate),
                              piper(oracle, "or the drums instead?"), silence(0.8, rate)])
    listening = Listening(oracle)
    guesses = []
    feed(listening, rate, samples, on_chunk=lambda fed: guesses.append(listening.prepared_for))
    early = [g for g in guesses if g and "drum" not in g.lower()]
    assert early, "no guess was made at the breath"
    heard = listening.finish()
    assert "drum" in heard.reply.question.lower()
    assert heard.reply.answer == oracle.answer(heard.reply.question)


def test_the_final_words_are_the_words_of_one_pass_over_the_question(oracle):
    """Whatever was guessed, the finished question is exactly what Whisper hears in the question's audio
    (up to its last speech and a short tail)."""
    rate = oracle.sample_rate
    samples = np.concatenate([silence(0.2, rate), piper(oracle, "Will my business succeed next year?"),
                              silence(0.6, rate)])
    listening = Listening(oracle)
    feed(listening, rate, samples)
    heard = listening.finish()
    one_pass = oracle.transcriber.transcribe(listening._audio[:listening._cut()].copy()).text
    assert heard.reply.question == one_pass.strip()


def test_bad_recordings_get_the_oracles_friendly_errors(oracle):
    with pytest.raises(NoAudio):
        Listening(oracle).finish()
    short = Listening(oracle)
    short.add(16_000, (0.3 * np.sin(np.arange(3000) / 5) * 32767).astype(np.int16))
    with pytest.raises(TooShort, match="Press Record"):
        short.finish()
    muted = Listening(oracle)
    feed(muted, 48_000, silence(2.0, 48_000))
    with pytest.raises(NoSound, match="muted"):
        muted.finish()
    noise = Listening(oracle)
    feed(noise, 16_000, (0.05 * np.random.default_rng(1).standard_normal(32_000)).astype(np.float32))
    with pytest.raises(NoSpeech) as quiet:
        noise.finish()
    assert not isinstance(quiet.value, NoSound)


def test_audio_beyond_the_longest_question_is_not_kept(oracle):
    listening = Listening(oracle)
    limit = oracle.settings.max_question_s
    feed(listening, 8_000, (0.01 * np.ones(int((limit + 5) * 8_000))).astype(np.float32), chunk_s=1.0, wait=False)
    assert listening.seconds == pytest.approx(limit, abs=0.01)
    assert listening.full


def test_two_visits_streaming_at_once_never_mix_their_audio(oracle, speech):
    rate = oracle.sample_rate
    piper_question = np.concatenate([silence(0.3, rate), piper(oracle, "Will tomorrow be a lucky day?"),
                                     silence(0.8, rate)])
    espeak, espeak_rate = soundfile.read(speech.say("Should I travel to Japan?"), dtype="int16")
    espeak_question = np.concatenate([silence(0.3, espeak_rate), espeak, silence(0.8, espeak_rate)])
    visits = {"lucky": Listening(oracle), "japan": Listening(oracle)}
    errors = []

    def stream(name, rate, samples):
        try:
            feed(visits[name], rate, samples)
        except Exception as error:  # reported below, with the thread's name
            errors.append((name, error))

    threads = [threading.Thread(target=stream, args=("lucky", rate, piper_question)),
               threading.Thread(target=stream, args=("japan", espeak_rate, espeak_question))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()
    assert errors == []
    lucky, japan = (visits[name].finish().reply.question.lower() for name in ("lucky", "japan"))
    assert "lucky" in lucky and "japan" not in lucky
    assert "japan" in japan and "lucky" not in japan
    assert visits["lucky"].seconds == pytest.approx(piper_question.size / rate, abs=0.05)
    assert visits["japan"].seconds == pytest.approx(espeak_question.size / espeak_rate, abs=0.05)
