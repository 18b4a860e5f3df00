"""The languages the oracle hears, answers and speaks, and how a request names one.

A supported language is a ``Language``: a ``StrEnum`` whose value is its ISO 639-1 code, so it is that code
wherever a plain string is read (JSON, lookups in tables keyed by code, Gradio values, log lines); only as a
key of a dict that Gradio serialises is it refused (orjson takes no str subclass there: see ``SUPPORTED``).
``LanguageOrAuto`` (``Language | None``) is used only where "not known yet" is meaningful: what a request asked
for, and the language handed to hearing, where None means "tell it from the speech". Hearing always returns a
decided ``Language``, so answering and speaking never see None and no signature falls back to English.

Strings from outside (an API argument, the CLI's ``--language``, a browser's ``Accept-Language``, a hearing
service's words) become a ``Language`` here, at the boundary: ``parse_language`` refuses an unsupported one
with ``UnsupportedLanguage``, whose message lists the supported languages.

On the page in auto, hearing tells the language from the speech at each pause (the captions in between reuse
the last one told), the browser's language (``hint``) weighing in as a prior only
(``oracle.asr.multilingual.HINT_WEIGHT``): it decides only when the speech leaves languages close.
"""

from __future__ import annotations

from enum import StrEnum

from oracle.errors import OracleError

AUTO = "auto"


class Language(StrEnum):
    """A supported language. ``name`` is its English name (for logs and prompts), ``native`` its own."""

    English = "en"
    Spanish = "es"
    French = "fr"
    German = "de"
    Italian = "it"
    Portuguese = "pt"
    Japanese = "ja"

    @property
    def native(self) -> str:
        """As its speakers write it, for the page."""
        return _NATIVE_NAMES[self]


_NATIVE_NAMES = {
    Language.English: "English",
    Language.Spanish: "Español",
    Language.French: "Français",
    Language.German: "Deutsch",
    Language.Italian: "Italiano",
    Language.Portuguese: "Português",
    Language.Japanese: "日本語",
}

# A question's language, or None: not known yet (hearing tells it from the speech).
LanguageOrAuto = Language | None

ENGLISH = Language.English

# The language of a question that nothing tells: too few words to identify, and no browser language. Each
# place that falls back to it does so by name, where the decision is made (``oracle.pipeline``'s typed
# questions, ``oracle.language_id.language_of_heard``).
FALLBACK_LANGUAGE = Language.English

# Every supported language by its code. The keys are plain strings, not Language members: Gradio serialises
# its config with orjson, which refuses dict keys that are a subclass of str.
SUPPORTED: dict[str, Language] = {language.value: language for language in Language}


class UnsupportedLanguage(OracleError):
    key = "unsupported_language"

    def __init__(self, detail: str | None = None):
        choices = ", ".join(f"{language} ({language.native})" for language in Language)
        super().__init__(detail, choices=choices)


def parse_language(value: object) -> LanguageOrAuto:
    """A request's language -> a ``Language``, or None for auto (also when absent: old clients).

    Accepts "auto", a code ("es"), a locale ("es-MX", "pt_BR") in any case. Anything else raises
    ``UnsupportedLanguage``, whose message lists the supported languages."""
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
    return Language(code)


def browser_language(accept_language: str | None) -> Language | None:
    """The first supported language of an ``Accept-Language`` header (``"fr-FR,fr;q=0.9,en;q=0.8"``), or
    None. Only a hint: hearing weighs it in as a prior, and the speech can overrule it."""
    for part in (accept_language or "").split(",")[:16]:
        try:
            language = parse_language(part.split(";", 1)[0])
        except UnsupportedLanguage:
            continue
        if language is not None:
            return language
    return None
