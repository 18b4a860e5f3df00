"""One voice per language, behind the one Speaker the pipeline holds: ``LanguageVoices``.

English is spoken by the speaker the app already chose (Piper embedded; Parler with Piper as backup on the
Space). Every other supported language has its own voice, built the first time it is needed (or by
``warm_up``), once, and resampled to the English speaker's rate so the page hears one stream format:

==========  =====================================  ===========================================
language    embedded (no GPU; the default)          on a GPU (``oracle.selection.gpu_available``)
==========  =====================================  ===========================================
es fr de it SVOX Pico (``oracle.speech.pico``)      Parler multilingual, Pico as its backup
pt          espeak-ng (``oracle.speech.espeak``)    Parler multilingual, espeak-ng as its backup
ja          Kokoro-82M (``oracle.speech.kokoro_ja``) Kokoro-82M (Parler multilingual has no Japanese)
==========  =====================================  ===========================================

Parler multilingual (``settings.parler_multilingual_model``) is loaded once and shared by its languages, each
with its own speaker (``PARLER_DESCRIPTIONS``); each language wraps it in its own ``FailoverSpeaker``, so a
failure falls back to that language's embedded voice, never mid-answer. A voice is chosen when an answer
starts and speaks all of it.

``robotic(language)`` says whether the voice that would answer now sounds plainly synthetic: espeak-ng (formant
synthesis) and SVOX Pico (an HMM voice with a buzzy vocoder) do, though both are clear; Piper, Kokoro and Parler
do not. The page can say so, so that a robotic voice is not mistaken for a fault.
"""

from __future__ import annotations

import logging
import threading
from typing import Iterable, Iterator

import numpy as np
import soxr

from oracle.audio import to_int16
from oracle.config import Settings
from oracle.engines import Speaker
from oracle.failover import FailoverSpeaker
from oracle.languages import ENGLISH, SUPPORTED, Language, UnsupportedLanguage

log = logging.getLogger(__name__)

EMBEDDED_VOICES = {"es": "pico", "fr": "pico", "de": "pico", "it": "pico", "pt": "espeak", "ja": "kokoro"}
# The model card's speakers, one woman per language, so each language keeps one recognisable voice; the
# description sets the oracle's manner.
_MANNER = ("speaks in a calm, mysterious tone at a slightly slow pace with a moderate pitch. The recording is of "
           "very high quality, with her voice sounding clear and very close up.")
PARLER_DESCRIPTIONS = {
    "fr": f"Christine {_MANNER}",
    "es": f"Olivia {_MANNER}",
    "pt": f"Sophia {_MANNER}",
    "de": f"Nicole {_MANNER}",
    "it": f"Julia {_MANNER}",
}
PARLER_DEFAULT_DESCRIPTION = f"A female speaker {_MANNER}"  # for its warm-up phrase (in English)
PARLER_MULTILINGUAL_NAME = "parler multilingual"


def embedded_voice(language: Language, settings: Settings | None = None) -> Speaker:
    """The offline voice of a non-English ``language`` (EngineUnavailable when it cannot run here)."""
    kind = EMBEDDED_VOICES.get(language)
    if kind == "pico":
        from oracle.speech.pico import PicoSpeaker

        return PicoSpeaker(language, settings)
    if kind == "espeak":
        from oracle.speech.espeak import EspeakSpeaker

        return EspeakSpeaker(language, settings)
    if kind == "kokoro":
        from oracle.speech.kokoro_ja import KokoroJapaneseSpeaker

        return KokoroJapaneseSpeaker(settings)
    raise ValueError(f"no embedded voice for {language!r}")


def _warm(engine) -> None:
    warm_up = getattr(engine, "warm_up", None)
    if warm_up is not None:
        warm_up()


def _planned_name(language: Language) -> str:
    """The name of a voice not built yet (without building it)."""
    from oracle.speech.espeak import ESPEAK_VOICES
    from oracle.speech.kokoro_ja import VOICE as KOKORO_VOICE
    from oracle.speech.pico import PICO_VOICES

    kind = EMBEDDED_VOICES[language]
    if kind == "pico":
        return f"pico ({PICO_VOICES[language]})"
    if kind == "espeak":
        return f"espeak-ng ({ESPEAK_VOICES[language]})"
    return f"kokoro ({KOKORO_VOICE})"


class LanguageVoices:
    """Speaker protocol over every supported language.

    ``english``: the speaker the app chose. ``gpu``: whether to use Parler multilingual (default: ask
    ``oracle.selection.gpu_available()``). ``voices``: voices already built, by language (they win over the
    table above; for tests and for an app that shares voices).
    """

    def __init__(self, english: Speaker, settings: Settings | None = None, *, gpu: bool | None = None,
                 voices: dict[Language, Speaker] | None = None):
        if gpu is None:
            from oracle.selection import gpu_available

            gpu = gpu_available()
        self.english = english
        self.settings = settings or Settings()
        self.gpu = gpu
        self.sample_rate: int = english.sample_rate
        self._voices: dict[Language, Speaker] = {ENGLISH: english, **(voices or {})}
        self._building = threading.Lock()  # guards _voices and _language_locks; never held while a voice loads
        self._language_locks: dict[Language, threading.Lock] = {}
        self._parler = None  # the shared multilingual model, or the error it failed with
        self._parler_lock = threading.Lock()

    @property
    def name(self) -> str:
        """The English voice's name (each language's: ``voice_name``)."""
        return self.english.name

    def stream(self, text: str, language: Language) -> Iterator[np.ndarray]:
        """``text`` in ``language`` -> int16 chunks at ``sample_rate``, all in the one voice of that language.

        An unsupported ``language`` raises ``UnsupportedLanguage`` here; a voice that cannot be built raises
        (``EngineUnavailable``) on the first ``next()``, as a voice that fails before speaking does."""
        if not isinstance(language, str) or language not in SUPPORTED:
            raise UnsupportedLanguage()
        return self._stream(text, language)

    def _stream(self, text: str, language: Language) -> Iterator[np.ndarray]:
        voice = self.voice(language)
        if voice.sample_rate == self.sample_rate:
            yield from voice.stream(text, language)
            return
        chunks = voice.stream(text, language)
        try:
            for chunk in chunks:
                # In float: soxr dithers int16 output, so the same answer would not give the same samples twice.
                resampled = soxr.resample(chunk.astype(np.float32) / 32767.0, voice.sample_rate, self.sample_rate)
                yield to_int16(resampled)
        finally:
            chunks.close()  # a listener who left stops the voice too

    def voice(self, language: Language) -> Speaker:
        """The voice of ``language``, built on first use (once, even when several answers ask at once)."""
        if not isinstance(language, str) or language not in SUPPORTED:
            raise UnsupportedLanguage()
        voice = self._voices.get(language)
        if voice is not None:
            return voice
        with self._building:
            lock = self._language_locks.setdefault(language, threading.Lock())
        with lock:
            voice = self._voices.get(language)
            if voice is None:
                voice = self._build(language)
                with self._building:
                    self._voices[language] = voice
        return voice

    def voice_name(self, language: Language) -> str:
        """The name of the voice that speaks ``language`` now (for the page); builds nothing."""
        if language not in SUPPORTED:
            raise UnsupportedLanguage()
        voice = self._voices.get(language)
        if voice is not None:
            return voice.name
        if self.gpu and language in PARLER_DESCRIPTIONS and not isinstance(self._parler, Exception):
            return PARLER_MULTILINGUAL_NAME
        return _planned_name(language)

    def robotic(self, language: Language) -> bool:
        """Whether the voice that speaks ``language`` now sounds plainly synthetic (see the module's doc)."""
        if language not in SUPPORTED:
            raise UnsupportedLanguage()
        voice = self._voices.get(language)
        if voice is None:
            if self.gpu and language in PARLER_DESCRIPTIONS and not isinstance(self._parler, Exception):
                return False
            return EMBEDDED_VOICES.get(language) in ("pico", "espeak")
        if isinstance(voice, FailoverSpeaker):
            voice = voice.primary if voice.health.usable else voice.backup
        return bool(getattr(voice, "robotic", False))

    def warm_up(self, languages: Iterable[Language] = tuple(Language)) -> None:
        """Build and warm the voices of ``languages`` (default: all), so no answer pays for loading one.

        On a ZeroGPU Space, call it in the main process at start-up: a voice first built inside a GPU call
        would be built in that short-lived worker, again for every call."""
        warmed: dict[int, bool] = {}  # id(engine) -> whether it warmed up fine
        for language in languages:
            voice = self.voice(language)
            if isinstance(voice, FailoverSpeaker) and id(voice.primary) in warmed:
                # The shared Parler model: warmed once for all its languages (its graphs cover every speaker).
                if not warmed[id(voice.primary)]:
                    voice.health.failed()
                _warm(voice.backup)
                continue
            if id(voice) not in warmed:
                _warm(voice)
                warmed[id(voice)] = True
                if isinstance(voice, FailoverSpeaker):
                    warmed[id(voice.primary)] = voice.health.usable

    # ------------------------------------------------------------------ building

    def _build(self, language: Language) -> Speaker:
        embedded = embedded_voice(language, self.settings)
        if not (self.gpu and language in PARLER_DESCRIPTIONS):
            log.info("voice for %s: %s", language, embedded.name)
            return embedded
        parler = self._multilingual_parler()
        if parler is None:
            log.info("voice for %s: %s (Parler multilingual is unavailable)", language, embedded.name)
            return embedded
        log.info("voice for %s: %s, with %s as backup", language, parler.name, embedded.name)
        return FailoverSpeaker(parler, embedded)

    def _multilingual_parler(self):
        """The shared Parler multilingual speaker, loaded once; None (logged once) if it cannot load."""
        with self._parler_lock:
            if self._parler is None:
                try:
                    self._parler = self._load_parler()
                except Exception as error:  # an outage or missing weights: the embedded voices answer
                    log.warning("Parler multilingual (%r) is unavailable (%s: %s); the embedded voices speak "
                                "its languages", self.settings.parler_multilingual_model, type(error).__name__, error)
                    self._parler = error
            return None if isinstance(self._parler, Exception) else self._parler

    def _load_parler(self):
        from oracle.speech.parler import ParlerSpeaker

        return ParlerSpeaker(self.settings, model_id=self.settings.parler_multilingual_model,
                             name=PARLER_MULTILINGUAL_NAME, description=PARLER_DEFAULT_DESCRIPTION,
                             descriptions=PARLER_DESCRIPTIONS)
