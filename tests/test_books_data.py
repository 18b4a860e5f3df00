"""Data checks for the per-language proverb books (oracle/answer/books/*.json).

Every book found by the glob is checked, so a new language's book is covered the
moment its file lands in the folder.
"""

import json
from collections import Counter
from pathlib import Path

import pytest

from harness.proverb_books import entry_label, malformed_entries

BOOKS_DIR = Path(__file__).parents[1] / "oracle" / "answer" / "books"
BOOK_PATHS = sorted(BOOKS_DIR.glob("*.json"))

MIN_ENTRIES = 150
MAX_TEXT_LEN = 110
MAX_TEXT_LEN_BY_LANG = {"ja": 60}  # counted in characters
MIN_DISTINCT_TAGS = 20  # every book
MIN_DISTINCT_TAGS_BY_LANG = {"es": 25, "fr": 25}  # books written to the stricter 25-tag brief
MIN_YES = 12
MIN_NO = 12
SENTENCE_END = (".", "!", "?", "\u3002", "\uff01", "\uff1f")  # . ! ? 。 ！ ？
FORBIDDEN_SUBSTRINGS = ("http", "*", "#", "`", "<", ">", '"', "\u201c", "\u201d")

TAG_VOCABULARY = {
    "work", "money", "decision", "patience", "learning", "animals", "no", "trust", "yes",
    "friendship", "future", "food", "honesty", "conflict", "luck", "business", "risk", "love",
    "time", "change", "health", "age", "ambition", "travel", "weather", "failure", "secrets",
    "haste", "home", "courage", "creativity", "pride", "saving", "family", "success", "spending",
    "career", "gossip", "tools", "marriage", "children", "sleep", "laziness", "pets", "wealth",
    "humility", "gifts", "neighbours", "sport", "forgiveness", "games", "exams", "lies",
    "revenge", "waiting", "school", "moving",
}


def test_books_folder_has_books():
    assert BOOK_PATHS, f"no proverb books found in {BOOKS_DIR}"


@pytest.fixture(scope="module", params=BOOK_PATHS, ids=lambda p: p.stem)
def book(request):
    path = request.param
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    assert isinstance(data, list), f"top level of {path.name} must be a JSON list, got {type(data).__name__}"
    return path.stem, data


def _well_formed(data):
    return [e for e in data if isinstance(e, dict) and set(e) == {"text", "gloss", "tags"}]


def test_has_enough_entries(book):
    lang, data = book
    assert len(data) >= MIN_ENTRIES, f"{lang}: expected at least {MIN_ENTRIES} proverbs, found {len(data)}"


def test_entries_have_exact_keys_and_types(book):
    lang, data = book
    problems = malformed_entries(data)
    assert not problems, f"{lang}: malformed entries:\n" + "\n".join(problems)


def test_texts_unique_case_insensitive(book):
    lang, data = book
    counts = Counter(e["text"].strip().lower() for e in _well_formed(data))
    dupes = sorted(t for t, n in counts.items() if n > 1)
    assert not dupes, f"{lang}: duplicate proverb texts (case-insensitive): {dupes}"


def test_text_format(book):
    lang, data = book
    limit = MAX_TEXT_LEN_BY_LANG.get(lang, MAX_TEXT_LEN)
    problems = []
    for i, entry in enumerate(_well_formed(data)):
        text = entry["text"]
        lowered = text.lower()
        if not text.strip() or text != text.strip():
            problems.append(f"{entry_label(i, entry)}: empty or has surrounding whitespace")
        if len(text) > limit:
            problems.append(f"{entry_label(i, entry)}: {len(text)} chars, over the {limit} limit")
        if not text.endswith(SENTENCE_END):
            problems.append(f"{entry_label(i, entry)}: must end with sentence punctuation {SENTENCE_END}")
        for bad in FORBIDDEN_SUBSTRINGS:
            if bad in lowered:
                problems.append(f"{entry_label(i, entry)}: contains forbidden {bad!r}")
        if "\n" in text:
            problems.append(f"{entry_label(i, entry)}: contains a newline")
    assert not problems, f"{lang}: bad proverb texts:\n" + "\n".join(problems)


def test_glosses_non_empty_and_not_the_text(book):
    lang, data = book
    problems = []
    for i, entry in enumerate(_well_formed(data)):
        gloss = entry["gloss"].strip()
        if not gloss:
            problems.append(f"{entry_label(i, entry)}: empty gloss")
        elif gloss.lower() == entry["text"].strip().lower():
            problems.append(f"{entry_label(i, entry)}: gloss repeats the text")
        if "\n" in gloss:
            problems.append(f"{entry_label(i, entry)}: gloss contains a newline")
    assert not problems, f"{lang}: bad glosses:\n" + "\n".join(problems)


def test_tags_valid(book):
    lang, data = book
    problems = []
    for i, entry in enumerate(_well_formed(data)):
        tags = entry["tags"]
        if not 1 <= len(tags) <= 4:
            problems.append(f"{entry_label(i, entry)}: has {len(tags)} tags, expected 1-4")
        unknown = [t for t in tags if t not in TAG_VOCABULARY]
        if unknown:
            problems.append(f"{entry_label(i, entry)}: tags outside the vocabulary {unknown}")
        if len(set(tags)) != len(tags):
            problems.append(f"{entry_label(i, entry)}: repeated tags {tags}")
    assert not problems, f"{lang}: bad tags:\n" + "\n".join(problems)


def test_enough_distinct_tags(book):
    lang, data = book
    minimum = MIN_DISTINCT_TAGS_BY_LANG.get(lang, MIN_DISTINCT_TAGS)
    distinct = {t for e in _well_formed(data) for t in e["tags"]}
    assert len(distinct) >= minimum, (
        f"{lang}: expected at least {minimum} distinct tags, found {len(distinct)}: {sorted(distinct)}"
    )


def test_enough_yes_and_no_answers(book):
    lang, data = book
    counts = Counter(t for e in _well_formed(data) for t in e["tags"])
    assert counts["yes"] >= MIN_YES, f"{lang}: expected at least {MIN_YES} 'yes' proverbs, found {counts['yes']}"
    assert counts["no"] >= MIN_NO, f"{lang}: expected at least {MIN_NO} 'no' proverbs, found {counts['no']}"
