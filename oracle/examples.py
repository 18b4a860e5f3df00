"""Example questions for the page: three in each supported language (the page's words ``example_1`` to
``example_3``, ``oracle/web/words/<code>.json``), typed or spoken.

The spoken ones are recorded once by that language's offline voice (Piper for English, ``embedded_voice``
for the others) into a cache shared by every run on the machine, ``~/.cache/magic8ball/examples``; a file is
named by what made it (language, voice, words), so a changed question or voice is recorded anew and an
unchanged one is never made again. Only the first start on a machine pays (the Japanese voice is the slow
one: a few seconds a sentence on two cores).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from oracle.audio import wav_bytes
from oracle.languages import ENGLISH, Language

EXAMPLES_PER_LANGUAGE = 3

log = logging.getLogger(__name__)


def example_questions(language: Language) -> list[str]:
    """The example questions of ``language``, as the page shows them."""
    from oracle.web.look import words

    said = words(language)
    return [said[f"example_{number}"] for number in range(1, EXAMPLES_PER_LANGUAGE + 1)]


def shared_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "magic8ball" / "examples"


def _voice_kind(language: Language) -> str:
    from oracle.speech.languages import EMBEDDED_VOICES

    return "piper" if language == ENGLISH else EMBEDDED_VOICES[language]


def _offline_voice(language: Language):
    if language == ENGLISH:
        from oracle.speech.piper import PiperSpeaker

        return PiperSpeaker()
    from oracle.speech.languages import embedded_voice

    return embedded_voice(language)


def voices_held_by(speaker) -> Callable[[Language], object | None]:
    """The offline voice of a language that the app's ``speaker`` (``LanguageVoices``) already holds, or None:
    recording the examples then loads no voice a second time (the Japanese one takes seconds and ~100 MB)."""

    def held(language: Language):
        voice_of = getattr(speaker, "voice", None)
        if voice_of is None:
            return None
        voice = getattr(speaker, "english", None) if language == ENGLISH else voice_of(language)
        voice = getattr(voice, "backup", voice)  # a GPU voice's offline backup
        return voice if str(getattr(voice, "name", "")).startswith(_voice_kind(language)) else None

    return held


def _spoken_text(question: str) -> str:
    """The words as a voice reads them best: plain apostrophes and spaces (the page's typography aside)."""
    return question.replace("\u2019", "'").replace("\u202f", " ").replace("\u00a0", " ")


def _file_name(language: Language, question: str) -> str:
    digest = hashlib.sha256(f"{language}\n{_voice_kind(language)}\n{question}".encode()).hexdigest()[:16]
    return f"example-{language}-{digest}.wav"


def spoken_examples(directory: Path | None = None, voices: Callable[[Language], object | None] | None = None,
                    languages: Iterable[Language] = tuple(Language)) -> dict[Language, list[str]]:
    """WAV files of the example questions of ``languages`` (default: all), by language code, in
    ``example_questions`` order.

    ``directory``: where the app's copies go (default: the shared cache itself). A file missing there is
    copied from the shared cache, or recorded into it first, by ``voices(language)`` when it gives a voice
    (``voices_held_by``), else by a voice loaded for the purpose."""
    cache = shared_cache()
    directory = directory or cache
    for folder in {cache, directory}:
        folder.mkdir(parents=True, exist_ok=True)
    paths: dict[Language, list[str]] = {}
    for language in languages:
        voice = None
        paths[language] = []
        for question in example_questions(language):
            name = _file_name(language, question)
            target, made = directory / name, cache / name
            if not _usable(target):
                if not _usable(made):
                    start = time.perf_counter()
                    voice = voice or (voices and voices(language)) or _offline_voice(language)
                    audio = np.concatenate(list(voice.stream(_spoken_text(question), language)))
                    _write_atomically(made, wav_bytes(audio, voice.sample_rate))
                    log.info("spoken example (%s) recorded in %.0f ms: %s", language,
                             (time.perf_counter() - start) * 1000, made.name)
                if target != made:
                    shutil.copyfile(made, target)
            paths[language].append(str(target))
    return paths


def _usable(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 44  # more than a WAV header


def _write_atomically(path: Path, data: bytes) -> None:
    """Another process starting at the same moment sees either no file or a whole one."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    partial.write_bytes(data)
    os.replace(partial, path)
