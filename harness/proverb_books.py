"""What the data tests of every proverb book share: the one shape of an entry, and how a bad one is named."""

from __future__ import annotations


def entry_label(index: int, entry) -> str:
    text = entry.get("text") if isinstance(entry, dict) else None
    return f"entry #{index} ({text!r})"


def malformed_entries(book: list) -> list[str]:
    """Every entry of ``book`` (a book file's JSON list) that is not {"text": str, "gloss": str, "tags": [str]}."""
    problems = []
    for i, entry in enumerate(book):
        if not isinstance(entry, dict):
            problems.append(f"entry #{i} is {type(entry).__name__}, not an object")
            continue
        keys = set(entry)
        if keys != {"text", "gloss", "tags"}:
            problems.append(f"{entry_label(i, entry)} has keys {sorted(keys)}, expected ['gloss', 'tags', 'text']")
            continue
        if not isinstance(entry["text"], str):
            problems.append(f"{entry_label(i, entry)}: text must be a string")
        if not isinstance(entry["gloss"], str):
            problems.append(f"{entry_label(i, entry)}: gloss must be a string")
        if not isinstance(entry["tags"], list) or not all(isinstance(t, str) for t in entry["tags"]):
            problems.append(f"{entry_label(i, entry)}: tags must be a list of strings")
    return problems
