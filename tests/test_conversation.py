"""The conversation core without Gradio: real speech (Piper and espeak-ng), silences inserted with numpy, sent
as the WAV chunks a browser's microphone uploads, to the real decoder, the real VAD and the real Whisper."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

from harness.audio_tools import without_trailing_silence
from harness.hearing import assert_heard, assert_heard_gist, overlap
from oracle.audio import SAMPLE_RATE
from oracle.conversation import TAIL_S, Conversation, Conversations, State, Turn
from oracle.endpointing import Endpointer
from oracle.errors import BadAudio, EngineUnavailable, NoAudio, NoSound, NoSpeech, TooShort
from oracle.languages import ENGLISH

IDLE_TIMEOUT_S = 60
CHUNK_S = 0.25


def silence(seconds: float, rate: int) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.int16)


def piper(oracle, text: str) -> np.ndarray:
    """``text`` in the app's Piper voice: int16 at ``oracle.sample_rate`` (22.05 kHz)."""
    return oracle.speak_all(text, ENGLISH)


class Microphone:
    """Writes each chunk as a WAV file, as Gradio's streaming microphone uploads it."""

    def __init__(self, folder: Path, subtype: str = "PCM_16"):
        self.folder, self.subtype, self.count = folder, subtype, 0

    def chunk(self, rate: int, samples: np.ndarray) -> str:
        self.count += 1
        path = self.folder / f"chunk-{self.count}.wav"
        soundfile.write(path, samples, rate, subtype=self.subtype)
        return str(path)

    def feed(self, conversation: Conversation, rate: int, samples: np.ndarray, chunk_s: float = CHUNK_S,
             wait: bool = True, on_chunk=None) -> None:
        """``samples`` in microphone-sized chunks; ``wait``: let the conversation catch up after each, as it
        would in real time (each test waits for the conversation's worker to end, never on the clock)."""
        step = max(1, int(chunk_s * rate))
        for start in range(0, len(samples), step):
            conversation.add_file(self.chunk(rate, samples[start:start + step]))
            if wait:
                wait_until_heard()
            if on_chunk is not None:
                on_chunk(start + step)


def wait_until_heard(timeout_s: float = IDLE_TIMEOUT_S) -> None:
    """Wait until no conversation's worker runs: each ends once it has heard (and prepared) all there is."""
    deadline = time.monotonic() + timeout_s
    while any(thread.name == "conversation" for thread in threading.enumerate()):
        assert time.monotonic() < deadline, f"a conversation was still hearing after {timeout_s} s"
        time.sleep(0.01)


@pytest.fixture
def microphone(tmp_path) -> Microphone:
    return Microphone(tmp_path)


def answered(conversation: Conversation) -> Turn:
    """The conversation's answer; the test fails with the message it got instead, if any."""
    result = conversation.finish()
    assert isinstance(result, Turn), f"no answer: {result!r}"
    return result


def assert_told(result, kind: type, says: str = "") -> None:
    """``finish()`` gave the failure ``kind``, whose message says ``says``."""
    assert isinstance(result, kind), f"expected {kind.__name__}, got {result!r}"
    assert says in str(result)


def to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    return soxr.resample(samples.astype(np.float32) / 32768, rate, SAMPLE_RATE).astype(np.float32)


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
    assert endpointer.speech_s == pytest.approx(speech_windows.size * 512 / SAMPLE_RATE)
    assert endpointer.speech_end_sample == (speech_windows.max() + 1) * 512
    assert endpointer.silence_after_speech_s == pytest.approx((whole.size - 1 - speech_windows.max()) * 512 / SAMPLE_RATE)
    assert endpointer.silence_after_speech_s >= 0.9  # the second of silence at the end, less Piper's fade


@pytest.mark.parametrize("form", ["int16 stereo 48 kHz", "float32 mono 16 kHz", "int32 mono 44.1 kHz",
                                  "int16 antiphase stereo 48 kHz"])
def test_a_streamed_question_is_heard_in_any_form_the_browser_sends(oracle, tmp_path, form):
    rate = oracle.sample_rate
    spoken = np.concatenate([silence(0.3, rate), piper(oracle, "Should I take the new job?"), silence(1.0, rate)])
    target = 16_000 if "16 kHz" in form else 44_100 if "44.1" in form else 48_000
    samples = soxr.resample(spoken.astype(np.float32) / 32768, rate, target)
    if "stereo" in form:
        samples = np.stack([samples, -samples if "antiphase" in form else samples], axis=1)
    subtype = {"int16": "PCM_16", "float32": "FLOAT", "int32": "PCM_32"}[form.split()[0]]
    conversation = Conversation(oracle)
    Microphone(tmp_path, subtype).feed(conversation, target, samples)
    assert conversation.ended
    turn = answered(conversation)
    assert_heard(turn.reply.question, "Should I take the new job?")
    assert turn.reply.answer and turn.reply.language == "en" and turn.reply.source == "streamed"


def test_the_question_ends_after_the_pause_and_not_before(oracle, microphone):
    """Hands-free: no end while speaking; an end once ``end_of_speech_s`` of silence has passed."""
    rate = oracle.sample_rate
    spoken = piper(oracle, "Will I find love this year?")
    samples = np.concatenate([silence(0.3, rate), spoken, silence(2.0, rate)])
    speech_end = int(0.3 * rate) + spoken.size
    ended_at = []
    conversation = Conversation(oracle)
    microphone.feed(conversation, rate, samples, chunk_s=0.1,
                    on_chunk=lambda fed: conversation.ended and ended_at.append(fed))
    assert ended_at, "the question never ended"
    silence_before_end = (ended_at[0] - speech_end) / rate
    # Piper's last word fades out before the file ends; the VAD may call the last ~0.2 s silence.
    assert oracle.settings.end_of_speech_s - 0.3 <= silence_before_end <= oracle.settings.end_of_speech_s + 0.5


@pytest.mark.parametrize("first, second", [
    ("Should I move to the city,", "or stay in my village?"),
    ("If I study every night,", "will I pass the exam?"),
])
def test_a_breath_in_the_middle_does_not_end_the_question(oracle, microphone, first, second):
    """0.3 s of silence after the first half's last sound: a breath (with Piper's own silence after the clause
    left in, the pause came to 0.62-0.73 s, around ``end_of_speech_s``: the test failed now and then)."""
    rate = oracle.sample_rate
    head = np.concatenate([silence(0.3, rate), without_trailing_silence(piper(oracle, first)), silence(0.3, rate)])
    samples = np.concatenate([head, piper(oracle, second), silence(1.5, rate)])
    ended_at = []
    conversation = Conversation(oracle)
    microphone.feed(conversation, rate, samples, chunk_s=0.1,
                    on_chunk=lambda fed: conversation.ended and ended_at.append(fed))
    assert ended_at and ended_at[0] > head.size + rate * 0.5, "cut off on the breath"
    assert_heard(answered(conversation).reply.question, f"{first} {second}")


def test_the_answer_prepared_during_the_pause_is_the_answer_and_its_voice(oracle, microphone):
    rate = oracle.sample_rate
    samples = np.concatenate([silence(0.3, rate), piper(oracle, "Is it a good time to buy a house?"),
                              silence(0.8, rate)])
    conversation = Conversation(oracle)
    microphone.feed(conversation, rate, samples)
    assert conversation.prepared
    turn = answered(conversation)
    assert turn.voice is not None, "nothing was prepared during the pause"
    assert turn.reply.answer_ms == 0.0
    # The same answer as a question asked afresh with these words, and all of it spoken: as many chunks as
    # a fresh stream, about as long (Piper draws its timing at random, so no two takes are equal).
    assert turn.reply.answer == oracle.answer(turn.reply.question, ENGLISH)
    voice = turn.voice_for(turn.reply.answer, turn.reply.language)
    prepared = list(voice.chunks())
    fresh = list(oracle.speak(turn.reply.answer, ENGLISH))
    assert len(prepared) == len(fresh)
    assert sum(c.size for c in prepared) == pytest.approx(sum(c.size for c in fresh), rel=0.15)


def test_a_guess_made_at_a_breath_is_dropped_when_the_question_goes_on(oracle, microphone):
    rate = oracle.sample_rate
    samples = np.concatenate([silence(0.3, rate), piper(oracle, "Should I learn the guitar,"), silence(0.4, rate),
                              piper(oracle, "or the drums instead?"), silence(0.8, rate)])
    conversation = Conversation(oracle)
    prepared_while_speaking = []
    microphone.feed(conversation, rate, samples,
                    on_chunk=lambda fed: prepared_while_speaking.append((fed, conversation.prepared)))
    breath_end = int((0.3 + 0.4) * rate) + piper(oracle, "Should I learn the guitar,").size
    assert any(ready for fed, ready in prepared_while_speaking if fed <= breath_end + rate * 0.3), \
        "no answer was prepared at the breath"
    turn = answered(conversation)
    assert_heard(turn.reply.question, "Should I learn the guitar, or the drums instead?")
    assert turn.reply.answer == oracle.answer(turn.reply.question, ENGLISH)


def test_the_final_words_are_the_words_of_one_pass_over_the_question(oracle, microphone):
    """Whatever was guessed, the finished question is what Whisper hears in the question's audio up to its
    last speech and a short tail, found here by a VAD pass of the test's own over the whole recording."""
    rate = oracle.sample_rate
    samples = np.concatenate([silence(0.2, rate), piper(oracle, "Will my business succeed next year?"),
                              silence(0.6, rate)])
    conversation = Conversation(oracle)
    microphone.feed(conversation, rate, samples)
    turn = answered(conversation)
    whole = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32")
    audio = np.concatenate([whole.resample_chunk(samples[i:i + int(CHUNK_S * rate)].astype(np.float32) / 32768)
                            for i in range(0, samples.size, int(CHUNK_S * rate))])
    endpointer = Endpointer()
    endpointer.feed(audio)
    cut = min(audio.size, endpointer.speech_end_sample + int(TAIL_S * SAMPLE_RATE))
    one_pass = oracle.transcriber.transcribe(audio[:cut]).text
    assert turn.reply.question == one_pass.strip()


def test_bad_recordings_get_the_oracles_friendly_errors(oracle, microphone):
    assert_told(Conversation(oracle).finish(), NoAudio)
    short = Conversation(oracle)
    short.add_file(microphone.chunk(16_000, (0.3 * np.sin(np.arange(3000) / 5) * 32767).astype(np.int16)))
    assert_told(short.finish(), TooShort, "Press Record")
    muted = Conversation(oracle)
    microphone.feed(muted, 48_000, silence(2.0, 48_000))
    assert_told(muted.finish(), NoSound, "muted")
    noise = Conversation(oracle)
    microphone.feed(noise, 16_000, (0.05 * np.random.default_rng(1).standard_normal(32_000)).astype(np.float32))
    quiet = noise.finish()
    assert_told(quiet, NoSpeech)
    assert not isinstance(quiet, NoSound)


def test_a_chunk_that_is_no_recording_ends_the_conversation_with_the_uploads_message(oracle, microphone, tmp_path):
    rate = oracle.sample_rate
    conversation = Conversation(oracle)
    microphone.feed(conversation, rate, np.concatenate([silence(0.3, rate), piper(oracle, "Will it snow?")]))
    playlist = tmp_path / "chunk.wav"
    playlist.write_text(f"#EXTM3U\n#EXTINF:2,\n{tmp_path / 'chunk-1.wav'}\n")
    conversation.add_file(str(playlist))
    assert conversation.state is State.FAILED
    assert_told(conversation.finish(), BadAudio)
    one_hertz = Conversation(oracle)
    path = tmp_path / "one-hertz.wav"
    soundfile.write(path, np.zeros(12_000, dtype=np.int16), 8_000)
    data = bytearray(path.read_bytes())
    data[24:28] = (1).to_bytes(4, "little")  # the fmt chunk's sample rate
    path.write_bytes(bytes(data))
    one_hertz.add_file(str(path))
    assert_told(one_hertz.finish(), BadAudio, "not one a microphone records")


def test_audio_beyond_the_longest_question_is_not_kept(oracle, microphone):
    conversation = Conversation(oracle)
    limit = oracle.settings.max_question_s
    microphone.feed(conversation, 8_000, (0.01 * np.ones(int((limit + 5) * 8_000))).astype(np.float32), chunk_s=1.0,
                    wait=False)
    assert conversation.seconds == pytest.approx(limit, abs=0.01)


class RaisingTranscriber:
    """The real hearing engine for its warm-up, then a crash on every call."""

    name = "raising"

    def __init__(self, real, hang: threading.Event | None = None):
        self.real, self.hang, self.calls = real, hang, 0

    def transcribe(self, audio, language=None, hint=None):
        self.calls += 1
        if self.hang is not None:
            self.hang.wait(60)
        raise RuntimeError("the hearing engine is broken")


def test_a_broken_hearing_engine_fails_the_question_once_and_leaves_nothing_running(oracle, microphone, caplog):
    from oracle.pipeline import Oracle

    rate = oracle.sample_rate
    broken = RaisingTranscriber(oracle.transcriber)
    patient = Oracle(broken, oracle.answerer, oracle.speaker, oracle.settings)
    conversation = Conversation(patient)
    samples = np.concatenate([silence(0.3, rate), piper(oracle, "Should I buy a boat?"), silence(1.0, rate)])
    microphone.feed(conversation, rate, samples)
    calls = broken.calls
    assert calls == 1, "a failed transcription was tried again"
    start = time.monotonic()
    assert_told(conversation.finish(), EngineUnavailable)
    assert time.monotonic() - start < IDLE_TIMEOUT_S  # a bound on a wait, not a speed target
    assert broken.calls == calls and conversation.state is State.FAILED
    assert not [t for t in threading.enumerate() if t.name.startswith("conversation")]


def test_a_hanging_hearing_engine_is_given_up_on_at_the_deadline(oracle, microphone):
    from oracle.pipeline import Oracle

    rate = oracle.sample_rate
    release = threading.Event()
    hanging = Oracle(RaisingTranscriber(oracle.transcriber, hang=release), oracle.answerer, oracle.speaker,
                     oracle.settings)
    conversation = Conversation(hanging)
    samples = np.concatenate([silence(0.3, rate), piper(oracle, "Should I buy a boat?"), silence(0.1, rate)])
    microphone.feed(conversation, rate, samples, wait=False)
    try:
        assert_told(conversation.finish(deadline_s=1.0), EngineUnavailable, "in time")
        assert conversation.state is State.FAILED
    finally:
        release.set()
    wait_until_heard()


def test_a_recording_whose_visit_went_silent_is_let_go(oracle, microphone):
    conversations = Conversations(oracle, prepare_voice=False, hearing_slots=threading.BoundedSemaphore(1),
                                  idle_s=0.5)
    rate = oracle.sample_rate
    left = conversations.open()
    microphone.feed(left, rate, np.concatenate([silence(0.3, rate), piper(oracle, "Will I win?")]))
    deadline, closed = time.monotonic() + IDLE_TIMEOUT_S, 0
    while closed == 0 and time.monotonic() < deadline:
        closed = conversations.close_idle()
        time.sleep(0.1)
    assert closed == 1 and left.state is State.CLOSED
    assert conversations.close_all() == 0  # forgotten, not only closed
    assert_told(left.finish(), NoAudio)


def test_two_visits_streaming_at_once_never_mix_their_audio(oracle, speech, tmp_path):
    rate = oracle.sample_rate
    piper_question = np.concatenate([silence(0.3, rate), piper(oracle, "Will tomorrow be a lucky day?"),
                                     silence(0.8, rate)])
    espeak, espeak_rate = soundfile.read(speech.say("Should I travel to Japan?"), dtype="int16")
    espeak_question = np.concatenate([silence(0.3, espeak_rate), espeak, silence(0.8, espeak_rate)])
    visits = {"lucky": Conversation(oracle), "japan": Conversation(oracle)}
    errors = []

    def stream(name, rate, samples):
        folder = tmp_path / name
        folder.mkdir()
        try:
            Microphone(folder).feed(visits[name], rate, samples)
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
    assert visits["lucky"].seconds == pytest.approx(piper_question.size / rate, abs=0.05)
    assert visits["japan"].seconds == pytest.approx(espeak_question.size / espeak_rate, abs=0.05)
    lucky, japan = (answered(visits[name]).reply.question for name in ("lucky", "japan"))
    assert_heard_gist(lucky, "Will tomorrow be a lucky day?")  # "We'll tomorrow be the lucky day." is fine
    assert_heard_gist(japan, "Should I travel to Japan?")
    assert overlap("lucky", japan) == 0 and overlap("japan", lucky) == 0


@pytest.mark.parametrize("browser", ["es", None])
def test_auto_hears_the_browsers_language_or_tells_it_from_the_speech(oracle, microphone, browser):
    """A Spanish question (SVOX Pico) streamed with the Language control on auto: from a Spanish browser it is
    heard in Spanish at once; from a browser in no supported language, every hearing tells the language from
    the question so far."""
    from harness.multilingual_audio import QUESTIONS, overlap as heard_share, samples
    from oracle.answer.library import load_book

    question = QUESTIONS["es"][1]
    speech = (samples(question) * 32767).astype(np.int16)
    recording = np.concatenate([silence(0.3, 16_000), speech, silence(1.0, 16_000)])
    conversation = Conversation(oracle, hint=browser)
    microphone.feed(conversation, 16_000, recording)
    turn = answered(conversation)
    assert turn.reply.language == "es"
    assert heard_share(question, turn.reply.question) >= 0.5, turn.reply.question
    assert turn.reply.answer in {proverb.text for proverb in load_book("es")}


@pytest.mark.parametrize("browser", ["fr", "de", "ja"])
def test_auto_hears_english_asked_in_a_browser_set_to_another_language(oracle, microphone, browser):
    """People ask in another language than their browser's: with the Language control on auto, the speech
    decides and the browser's language only weighs in. The answer prepared at the pause is for the English
    words, so nothing is heard again at Stop."""
    from oracle.answer.library import load_book

    rate = oracle.sample_rate
    said = "Should I take the new job?"
    conversation = Conversation(oracle, hint=browser)
    microphone.feed(conversation, rate, np.concatenate([silence(0.3, rate), piper(oracle, said), silence(1, rate)]))
    assert conversation.prepared
    turn = answered(conversation)
    assert turn.reply.language == "en"
    assert_heard(turn.reply.question, said)
    assert turn.reply.answer in {proverb.text for proverb in load_book("en")}
    assert turn.reply.answer_ms == 0.0, "the answer prepared at the pause was for other words"


def test_the_docstring_table_is_the_table_the_code_enforces():
    import oracle.conversation as module

    rows = [line.split("|") for line in module.__doc__.splitlines() if line.startswith("| ") and "---" not in line]
    documented = {cells[1].strip(): {name.strip() for name in cells[4].split(",") if name.strip() not in ("", "—")}
                  for cells in rows[1:]}
    assert documented == {state.value: {to.value for to in allowed} for state, allowed in module.TRANSITIONS.items()}


def test_a_conversation_moves_only_as_its_table_says(oracle, microphone):
    rate = oracle.sample_rate
    conversation = Conversation(oracle)
    microphone.feed(conversation, rate, np.concatenate([silence(0.3, rate), piper(oracle, "Will it snow?"),
                                                        silence(0.8, rate)]))
    answered(conversation)
    assert conversation.state is State.ANSWERED
    conversation.add_file(microphone.chunk(rate, piper(oracle, "Will it rain?")))  # a chunk that came late
    assert conversation.state is State.ANSWERED and conversation.seconds == 0.0
    assert_told(conversation.finish(), NoAudio)  # Stop pressed twice
    conversation.close()
    assert conversation.state is State.CLOSED
    assert_told(conversation.finish(), NoAudio)
