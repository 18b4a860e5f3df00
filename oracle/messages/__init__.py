"""Every message the oracle says to a person, in every supported language: one table, ``<code>.json`` here.

An error names its message by a key (``oracle.errors``: the class says which); the edges that talk to people
(the page and the API in ``oracle.web.flow``, the command line) look it up in the person's language with
``say``. English is the fallback for a key a language lacks, and the language of a request that names none.
Imports nothing heavy: the command line reads it before any engine loads.
"""

from __future__ import annotations

import json
from pathlib import Path

ENGLISH = "en"
FOLDER = Path(__file__).parent
TABLE: dict[str, dict[str, str]] = {
    path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(FOLDER.glob("*.json"))}
KEYS = frozenset(TABLE[ENGLISH])

# How each language groups the digits of a large number (a sample rate in a message).
THOUSANDS = {"en": ",", "ja": ",", "es": ".", "de": ".", "it": ".", "pt": ".", "fr": "\u202f"}


def number(value: int, language: str | None) -> str:
    return f"{value:,}".replace(",", THOUSANDS.get(language or ENGLISH, ","))


def say(key: str, language: str | None = None, **values) -> str:
    """The message ``key`` in ``language`` (None, or one without it: English), with ``values`` filled in."""
    table = TABLE.get(language or ENGLISH, TABLE[ENGLISH])
    text = table.get(key) or TABLE[ENGLISH][key]
    return text.format(**values) if values else text
