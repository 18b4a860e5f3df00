"""Data checks for the oracle's proverb book (oracle/answer/proverbs.json)."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from harness.proverb_books import entry_label, malformed_entries

BOOK_PATH = Path(__file__).parents[1] / "oracle" / "answer" / "proverbs.json"

MIN_ENTRIES = 300
MAX_TEXT_LEN = 110
MIN_DISTINCT_TAGS = 25
FORBIDDEN_SUBSTRINGS = ("magic 8", "http", "*", "#", "`", "<", ">", '"', "\u201c", "\u201d")
TAG_RE = re.compile(r"^[a-z][a-z-]*$")


@pytest.fixture(scope="module")
def book():
    assert BOOK_PATH.is_file(), f"proverb book not found at {BOOK_PATH}"
    with BOOK_PATH.open(encoding="utf-8") as fh:
        data = json.load(fh)
    assert isinstance(data, list), f"top level of {BOOK_PATH.name} must be a JSON list, got {type(data).__name__}"
    return data


def test_has_enough_entries(book):
    assert len(book) >= MIN_ENTRIES, f"expected at least {MIN_ENTRIES} proverbs, found {len(book)}"


def test_entries_have_exact_keys_and_types(book):
    problems = malformed_entries(book)
    assert not problems, "malformed entries:\n" + "\n".join(problems)


def test_texts_unique_case_insensitive(book):
    counts = Counter(e["text"].strip().lower() for e in book)
    dupes = sorted(t for t, n in counts.items() if n > 1)
    assert not dupes, f"duplicate proverb texts (case-insensitive): {dupes}"


def test_text_format(book):
    problems = []
    for i, entry in enumerate(book):
        text = entry["text"]
        lowered = text.lower()
        if not text.strip() or text != text.strip():
            problems.append(f"{entry_label(i, entry)}: empty or has surrounding whitespace")
        if len(text) > MAX_TEXT_LEN:
            problems.append(f"{entry_label(i, entry)}: {len(text)} chars, over the {MAX_TEXT_LEN} limit")
        if not text.endswith((".", "?", "!")):
            problems.append(f"{entry_label(i, entry)}: must end with '.', '?' or '!'")
        for bad in FORBIDDEN_SUBSTRINGS:
            if bad in lowered:
                problems.append(f"{entry_label(i, entry)}: contains forbidden {bad!r}")
        if "\n" in text:
            problems.append(f"{entry_label(i, entry)}: contains a newline")
    assert not problems, "bad proverb texts:\n" + "\n".join(problems)


def test_glosses_non_empty(book):
    empty = [entry_label(i, e) for i, e in enumerate(book) if not e["gloss"].strip()]
    assert not empty, f"entries with an empty gloss: {empty}"


def test_tags_valid(book):
    problems = []
    for i, entry in enumerate(book):
        tags = entry["tags"]
        if not 1 <= len(tags) <= 4:
            problems.append(f"{entry_label(i, entry)}: has {len(tags)} tags, expected 1-4")
        for tag in tags:
            if tag != tag.lower() or not TAG_RE.match(tag):
                problems.append(f"{entry_label(i, entry)}: tag {tag!r} must be a lowercase word")
        if len(set(tags)) != len(tags):
            problems.append(f"{entry_label(i, entry)}: repeated tags {tags}")
    assert not problems, "bad tags:\n" + "\n".join(problems)


def test_enough_distinct_tags(book):
    distinct = {t for e in book for t in e["tags"]}
    assert len(distinct) >= MIN_DISTINCT_TAGS, (
        f"expected at least {MIN_DISTINCT_TAGS} distinct tags, found {len(distinct)}: {sorted(distinct)}"
    )
