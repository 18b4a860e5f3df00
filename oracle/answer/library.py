"""The proverb books on disk: each supported language's own traditional proverbs, read once per process.

English's is ``proverbs.json``; every other language's is ``books/<code>.json``, in the same format (the
text, its gloss in that language, and tags in English). The book answerers and the guard both read them here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from oracle.languages import ENGLISH, Language

PROVERBS_PATH = Path(__file__).with_name("proverbs.json")
BOOKS_DIR = Path(__file__).with_name("books")


@dataclass(frozen=True)
class Proverb:
    text: str
    gloss: str
    tags: tuple[str, ...]


@lru_cache(maxsize=None)
def load_proverbs(path: Path = PROVERBS_PATH) -> tuple[Proverb, ...]:
    """The proverbs of the book at ``path``, read once per process."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    return tuple(Proverb(e["text"], e["gloss"], tuple(e["tags"])) for e in entries)


def book_path(language: Language) -> Path:
    return PROVERBS_PATH if language == ENGLISH else BOOKS_DIR / f"{language}.json"


def load_book(language: Language) -> tuple[Proverb, ...]:
    """The proverbs of ``language``'s own book (English: proverbs.json); () when it has none."""
    path = book_path(language)
    return load_proverbs(path) if path.is_file() else ()
