"""Hearing in every supported language: the embedded engine (tiny.en for English, Whisper base for the
rest) on real recordings, the joined model's integrity, and the remote engine's language parameter.

Bounds hold under CTranslate2's GENERIC, AVX and AVX2 kernels (``CT2_FORCE_CPU_ISA``); speed is measured
by benchmarks/hearing_languages.py, not here.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from harness.fake_inference_api import DEFAULT_TRANSCRIPT, FakeInferenceAPI
from harness.multilingual_audio import QUESTIONS, error_rate, overlap, samples
from oracle.asr import multilingual
from oracle.languages import SUPPORTED

# Word error (character error of the reading for Japanese) over each language's set, language given.
# Measured by benchmarks/hearing_languages.py (AVX2): en 0.00, es 0.05, fr 0.11, de 0.00, it 0.00, pt 0.45,
# ja 0.03; each bound leaves room for the other kernels (the tests pass under GENERIC, AVX and AVX2) and
# stays far below what unrelated text scores (about 1.0).
ERROR_BOUNDS = {"en": 0.2, "es": 0.3, "fr": 0.35, "de": 0.2, "it": 0.25, "pt": 0.7, "ja": 0.2}
# Language detection with no language and no hint: right for at least this share of each set.
# Espeak-ng's Portuguese is often taken for English by Whisper base (1 to 2 of 4), so it is left out
# here (the hint test uses it instead).
DETECTION_BOUND = 0.75
DETECTED_LANGUAGES = ("en", "es", "fr", "de", "it", "ja")


@pytest.fixture(scope="module")
def speech_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("multilingual-speech")


@pytest.fixture(scope="module")
def hearing():
    from oracle.asr.local import LocalWhisper

    return LocalWhisper()


@pytest.fixture(scope="module")
def heard_with_language(hearing, speech_folder):
    """language -> [(question, transcription)], each heard with its language given."""
    return {language: [(q, hearing.transcribe(samples(q, speech_folder), language)) for q in questions]
            for language, questions in QUESTIONS.items()}


@pytest.mark.parametrize("language", list(QUESTIONS))
def test_each_language_is_heard_when_given(heard_with_language, language):
    pairs = heard_with_language[language]
    assert all(heard.language == language for _, heard in pairs)
    rate = error_rate([(q, heard.text) for q, heard in pairs])
    assert rate <= ERROR_BOUNDS[language], [(q.text, heard.text) for q, heard in pairs]
    # And most of each question is heard in its own script: not a translation into English.
    assert np.median([overlap(q, heard.text) for q, heard in pairs]) >= 0.5


def test_english_is_heard_by_tiny_en_and_the_rest_by_base(hearing, speech_folder):
    question = QUESTIONS["en"][0]
    tiny = hearing._english.hear  # tiny.en's own hearing, to count its calls
    calls = []

    def counting(audio, tokenizer, *args, **kwargs):
        calls.append(tokenizer.language_code)
        return tiny(audio, tokenizer, *args, **kwargs)

    hearing._english.hear = counting
    try:
        heard = hearing.transcribe(samples(question, speech_folder), "en")
        assert heard.language == "en" and overlap(question, heard.text) >= 0.8
        assert calls == ["en"]
        hearing.transcribe(samples(QUESTIONS["de"][0], speech_folder), "de")
        assert calls == ["en"]  # German went to the multilingual model
        detected = hearing.transcribe(samples(question, speech_folder))  # auto: detected English -> tiny.en
        assert detected.language == "en" and calls == ["en", "en"]
    finally:
        del hearing._english.hear
    assert not hearing._model.model.is_multilingual and hearing.multilingual._model.model.is_multilingual


@pytest.mark.parametrize("language", DETECTED_LANGUAGES)
def test_the_language_is_detected_from_the_speech(hearing, speech_folder, language):
    results = [hearing.transcribe(samples(q, speech_folder)) for q in QUESTIONS[language]]
    right = [heard for heard in results if heard.language == language]
    assert len(right) / len(results) >= DETECTION_BOUND, [(h.language, h.text) for h in results]
    assert all(heard.language in SUPPORTED for heard in results)
    # Detected and heard in one go: what was heard holds the question's words too.
    pairs = [(q, heard.text) for q, heard in zip(QUESTIONS[language], results) if heard.language == language]
    assert error_rate(pairs) <= ERROR_BOUNDS[language]


def test_detection_weighs_the_whole_question_not_its_first_second(hearing, speech_folder):
    # One second of silence, then German: a detector that looked at the first second only would guess.
    german = samples(QUESTIONS["de"][4], speech_folder)
    audio = np.concatenate([np.zeros(16_000, dtype=np.float32), german])
    detected = hearing.multilingual.detect_language(audio)
    assert detected.language == "de" and detected.probabilities["de"] >= 0.8


def test_the_browser_language_tips_an_ambiguous_question(hearing, speech_folder):
    # "Vou passar no meu exame?" in espeak-ng's Portuguese: Whisper base hears it as Portuguese or English
    # about equally (pt 0.42-0.44, en 0.34-0.42 on the kernels measured); the browser's language decides.
    question = QUESTIONS["pt"][0]
    audio = samples(question, speech_folder)
    detector = hearing.multilingual
    alone = detector.detect_language(audio)
    assert max(alone.probabilities.values()) < 0.7, alone.probabilities  # ambiguous
    assert detector.detect_language(audio, hint="pt").language == "pt"
    assert detector.detect_language(audio, hint="en").language == "en"
    heard = hearing.transcribe(audio, hint="pt")
    assert heard.language == "pt" and overlap(question, heard.text) >= 0.4, heard.text
    # But a clear question in another language is not overruled by the hint.
    german = detector.detect_language(samples(QUESTIONS["de"][0], speech_folder), hint="pt")
    assert german.language == "de"


def test_choose_language_renormalises_over_the_supported_languages():
    language, posterior = multilingual.choose_language({"en": 0.1, "nl": 0.6, "de": 0.2, "ja": 0.1})
    assert language == "de"  # Dutch is not supported: the best supported language wins
    assert set(posterior) == set(SUPPORTED) and abs(sum(posterior.values()) - 1) < 1e-9
    assert posterior["de"] == pytest.approx(0.5)
    assert multilingual.choose_language({"en": 0.5, "fr": 0.3}, hint="fr")[0] == "fr"  # hint tips 5:3
    assert multilingual.choose_language({"en": 0.8, "fr": 0.2}, hint="fr")[0] == "en"  # 4:1 beats it


# -- the joined model ---------------------------------------------------------------------------

def test_the_model_is_joined_once_with_its_hash_checked_and_a_damaged_join_is_redone(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = multilingual.prepare_model_folder()
    assert folder == tmp_path / "magic8ball" / "whisper-base-multilingual"
    model = folder / "model.bin"
    assert hashlib.sha256(model.read_bytes()).hexdigest() == multilingual.MODEL_SHA256
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.bin", "tokenizer.json",
                                                        "vocabulary.txt"]  # no temporary file left
    joined_at = model.stat().st_mtime_ns
    assert multilingual.prepare_model_folder() == folder and model.stat().st_mtime_ns == joined_at  # not redone

    with open(model, "r+b") as file:  # one flipped byte in the middle
        file.seek(model.stat().st_size // 2)
        byte = file.read(1)
        file.seek(-1, 1)
        file.write(bytes([byte[0] ^ 0xFF]))
    multilingual.prepare_model_folder()
    assert hashlib.sha256(model.read_bytes()).hexdigest() == multilingual.MODEL_SHA256

    with open(model, "r+b") as file:  # a partial join
        file.truncate(model.stat().st_size // 3)
    (folder / "config.json").write_text("{}")
    multilingual.prepare_model_folder()
    assert hashlib.sha256(model.read_bytes()).hexdigest() == multilingual.MODEL_SHA256
    assert (folder / "config.json").read_text() != "{}"
    # And the joined folder loads and hears.
    whisper = multilingual.MultilingualWhisper()
    assert whisper.folder == folder
    assert whisper.transcribe(np.zeros(16_000, dtype=np.float32), "es").language == "es"


def test_halves_that_join_to_the_wrong_hash_raise_a_friendly_error(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(multilingual, "MODEL_SHA256", "0" * 64)  # as if a half were damaged on disk
    with pytest.raises(multilingual.HearingModelDamaged, match="hearing model is damaged"):
        multilingual.prepare_model_folder()
    folder = tmp_path / "magic8ball" / "whisper-base-multilingual"
    assert not [p for p in folder.iterdir() if p.name.endswith(".partial")]


# -- the remote engine --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api():
    with FakeInferenceAPI() as server:
        yield server


@pytest.fixture
def remote(api, monkeypatch):
    from oracle.config import Settings
    from oracle.engines import build

    api.reset()
    monkeypatch.setenv("ORACLE_ASR_MODEL", api.asr_url)
    monkeypatch.setenv("HF_TOKEN", "hf_FAKEtokenForTheMultilingualTests0123")
    monkeypatch.setenv("ORACLE_REQUEST_TIMEOUT", "2")
    return build("asr", "remote", Settings.from_env())


def test_remote_hearing_passes_a_given_language_to_whisper(remote, api, speech_folder):
    import base64
    import io

    import soundfile

    audio = samples(QUESTIONS["fr"][0], speech_folder)
    heard = remote.transcribe(audio, "fr")
    assert heard.text == DEFAULT_TRANSCRIPT and heard.language == "fr"
    [request] = api.requests_of("asr")
    body = request.json
    assert body["parameters"] == {"generate_kwargs": {"language": "fr"}}
    sent, rate = soundfile.read(io.BytesIO(base64.b64decode(body["inputs"])), dtype="float32")
    assert rate == 16_000 and sent.size == audio.size


def test_remote_hearing_without_a_language_sends_raw_audio_and_reads_the_language_from_the_words(remote, api):
    heard = remote.transcribe(np.zeros(16_000, dtype=np.float32), hint="fr")
    assert heard.text == DEFAULT_TRANSCRIPT and heard.language == "en", "English words heard in a French browser"
    [request] = api.requests_of("asr")
    assert request.json is None and request.body[:4] == b"RIFF"
    api.transcript = "¿Debería mudarme a otra ciudad el año que viene?"
    try:
        assert remote.transcribe(np.zeros(16_000, dtype=np.float32), hint="en").language == "es"
        api.transcript = "Oui?"  # too few words to tell: the browser's language decides
        assert remote.transcribe(np.zeros(16_000, dtype=np.float32), hint="fr").language == "fr"
    finally:
        api.transcript = DEFAULT_TRANSCRIPT


def test_a_long_question_is_told_and_heard_from_one_encoding(hearing, speech_folder):
    # Two Spanish questions, over 8 s with the pause between: the detection window would be about the hearing
    # window, so the language is told from the hearing window's encoding and the words decoded from it; they
    # are the very words heard when the language is given.
    spanish = [samples(question, speech_folder) for question in QUESTIONS["es"][:3]]
    gap = np.zeros(8_000, dtype=np.float32)
    audio = np.concatenate([part for question in spanish for part in (question, gap)])
    assert audio.size / 16_000 >= 8.0
    detected = hearing.multilingual.detect_language(audio, hint="en")
    assert detected.language == "es"
    assert detected.speech.frames == multilingual.HEARING_WINDOW.frames(audio.size / 16_000)
    told = hearing.transcribe(audio, None, "en")
    assert told.language == "es" and told.text == hearing.transcribe(audio, "es").text
    # A short question is told from its own, shorter window.
    short = hearing.multilingual.detect_language(spanish[0])
    assert short.speech.frames == multilingual.DETECTION_WINDOW.frames(spanish[0].size / 16_000)
