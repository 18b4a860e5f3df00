"""The languages the oracle hears, answers and speaks, and how a request names one.

A language travels with a question as a plain ISO 639-1 code ("en", "es", …): through hearing
(``Transcriber.transcribe(audio, language, hint)``), answering (``Answerer.answer(question, language)``)
and speaking (``Speaker.stream(text, language)``). ``None`` means "not known yet": hearing decides it from
the speech (among ``SUPPORTED`` only), weighing in ``hint`` (the browser's language) when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass

from oracle.errors import OracleError

AUTO = "auto"
ENGLISH = "en"


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1
    name: str  # in English, for logs and the README
    native: str  # as its speakers write it, for the page


SUPPORTED: dict[str, Language] = {language.code: language for language in (
    Language("en", "English", "English"),
    Language("es", "Spanish", "Español"),
    Language("fr", "French", "Français"),
    Language("de", "German", "Deutsch"),
    Language("it", "Italian", "Italiano"),
    Language("pt", "Portuguese", "Português"),
    Language("ja", "Japanese", "日本語"),
)}


class UnsupportedLanguage(OracleError):
    key = "unsupported_language"

    def __init__(self, detail: str | None = None):
        choices = ", ".join(f"{code} ({language.native})" for code, language in SUPPORTED.items())
        super().__init__(detail, choices=choices)


def parse_language(value: str | None) -> str | None:
    """A request's language -> a supported code, or None for auto (also when absent: old clients).

    Accepts "auto", a code ("es"), a locale ("es-MX", "pt_BR") in any case. Anything else raises
    ``UnsupportedLanguage``, whose message lists the supported codes."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 35:
        raise UnsupportedLanguage()
    text = value.strip().lower()
    if text in ("", AUTO):
        return None
    code = text.replace("_", "-").split("-", 1)[0]
    if code not in SUPPORTED:
        raise UnsupportedLanguage()
    return code


def browser_language(accept_language: str | None) -> str | None:
    """The first supported language of an ``Accept-Language`` header (``"fr-FR,fr;q=0.9,en;q=0.8"``), or
    None. Only a hint: the speech itself decides."""
    for part in (accept_language or "").split(",")[:16]:
        try:
            code = parse_language(part.split(";", 1)[0])
        except UnsupportedLanguage:
            continue
        if code is not None:
            return code
    return None
