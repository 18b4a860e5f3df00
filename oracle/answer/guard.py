"""The one gate every answer passes before anyone reads or hears it.

Whatever an answerer returns (a curated proverb, a tiny local model's guess, or a remote LLM that an
attacker talked into markdown, links or an essay) leaves here as one short, plain, speakable line.
"""

from __future__ import annotations

import re

FOOLISH_ANSWER = "Foolish questions get foolish answers."
# Said when an answerer returns nothing usable.
FALLBACK_ANSWER = "The answer you seek is not yet ripe."
MAX_ANSWER_CHARS = 160

_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.DOTALL)
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+|\b[\w.-]+\.(?:com|org|net|io|ai|dev|co|gov|edu)(?:/\S*)?\b", re.I)
_EMAIL = re.compile(r"\S+@\S+\.\S+")
_HTML_ELEMENT_WITH_CODE = re.compile(r"<(script|style)\b.*?(</\1\s*>|$)", re.I | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]{0,200}>")
_MAGIC_BALL = re.compile(r"\bmagic[\s-]*(?:8|eight)[\s-]*ball\b[,:;]?", re.I)
_LABEL = re.compile(r"^\s*(?:answer|response|oracle|proverb|reply)\s*:\s*", re.I)
_MARKUP_CHARS = re.compile(r"[*_#`~|>\[\]{}\\^=<]+")
_NOT_SPEAKABLE = re.compile(r"[^\w\s.,;:!?'\-()&%$]", re.UNICODE)
_SENTENCE = re.compile(r"[^.!?]+[.!?]+|[^.!?]+$")


def sanitize(text: str | None) -> str:
    """One short plain line: no markup, links, code or mention of the ball; capped in length."""
    if not text:
        return FALLBACK_ANSWER
    text = _CODE_BLOCK.sub(" ", text)
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = _HTML_ELEMENT_WITH_CODE.sub(" ", text)
    text = _HTML_TAG.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _MAGIC_BALL.sub(" ", text)
    first_paragraph = next((p for p in re.split(r"\n\s*\n|\n", text) if re.search(r"[A-Za-z]{2}", p)), "")
    text = _LABEL.sub("", first_paragraph)
    text = _MARKUP_CHARS.sub(" ", text)
    text = _NOT_SPEAKABLE.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip(" \"'-:;,")
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    text = _cap(text)
    if len(re.findall(r"[A-Za-z]", text)) < 3:
        return FALLBACK_ANSWER
    if text[-1] not in ".!?":
        text += "."
    return text[0].upper() + text[1:]


def _cap(text: str) -> str:
    """Whole sentences up to the cap; a single over-long sentence is cut at a word boundary."""
    if len(text) <= MAX_ANSWER_CHARS:
        return text
    kept = ""
    for sentence in _SENTENCE.findall(text):
        if len(kept) + len(sentence) > MAX_ANSWER_CHARS:
            break
        kept += sentence
    if kept.strip():
        return kept.strip()
    cut = text[:MAX_ANSWER_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "."
