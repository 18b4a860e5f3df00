"""What the web layer tells a person, and in which language.

A request is told things in the language it names (an API call's ``language``, the language chosen on the
page), else its browser's (``Accept-Language``), else English: an API script that names none is told what it
was told before there were languages. The errors say which message (``oracle.errors``); this is where they
become words.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import gradio as gr

from oracle.errors import OracleError
from oracle.languages import Language, LanguageOrAuto, browser_language, parse_language
from oracle.messages import say
from oracle.web.gradio_adapter.page import component_id


def for_people(error: OracleError, language: Language | None) -> gr.Error:
    """The oracle's friendly message in ``language`` (None: English), as what Gradio shows a person (and a
    gradio_client raises)."""
    return gr.Error(error.message(language), title=say("error_title", language), print_exception=False)


def named_language(value: Any) -> LanguageOrAuto:
    """The supported language a request's ``language`` value names; None for auto, absent or unsupported."""
    try:
        return parse_language(value) if isinstance(value, str) else None
    except OracleError:
        return None


def browser_hint(headers: Mapping[str, str] | None) -> Language | None:
    """The first supported language of a request's ``Accept-Language`` (a browser sends one; scripts rarely)."""
    return browser_language(headers.get("accept-language")) if headers is not None else None


def told_in(inputs: Iterable[Any], values: list | None, headers: Mapping[str, str] | None,
            language_inputs: frozenset[int]) -> Language | None:
    """The language a request is told things in. ``inputs``: the components its function takes, ``values``:
    what it sent for them (raw), ``language_inputs``: the ids of the components that carry a language."""
    for index, block in enumerate(inputs):
        if component_id(block) in language_inputs and values is not None and index < len(values):
            named = named_language(values[index])
            if named is not None:
                return named
    return browser_hint(headers)
