"""The language as a type: strings from outside become a ``Language`` at the boundary (or are refused with
the message that lists the supported ones), a question asked in auto is given a decided language before it
is answered, and no engine or pipeline signature falls back to English by default."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json

import gradio as gr
import pytest

from harness.multilingual_audio import QUESTIONS, recording
from oracle.answer.guard import foolish_answer
from oracle.answer.library import load_book
from oracle.engines import ENGINES
from oracle.language_id import language_of_heard
from oracle.languages import (FALLBACK_LANGUAGE, SUPPORTED, Language, UnsupportedLanguage, browser_language,
                              parse_language)
from oracle.messages import say
from oracle.pipeline import TYPED, Oracle, Reply

UNSUPPORTED = ["klingon", "xx", "nl", "zh-CN", "e" * 40, "en;es", 7]


class RecordingAnswerer:
    """Answers with the first proverb of the book of the language it is given, and keeps that language."""

    name = "recording"

    def __init__(self):
        self.languages: list = []

    def answer(self, question: str, language: Language) -> str:
        self.languages.append(language)
        return load_book(language)[0].text


# -- parsing at the boundary --------------------------------------------------------------------------

@pytest.mark.parametrize("text, language", [
    ("es", Language.Spanish), ("ES", Language.Spanish), (" es-MX ", Language.Spanish), ("pt_BR", Language.Portuguese),
    ("ja-JP", Language.Japanese), ("en-GB", Language.English), ("auto", None), ("AUTO", None), ("", None), (None, None),
])
def test_a_request_names_a_language_or_auto(text, language):
    assert parse_language(text) is language


@pytest.mark.parametrize("text", UNSUPPORTED)
def test_an_unsupported_language_is_refused_with_the_supported_ones_listed(text):
    with pytest.raises(UnsupportedLanguage) as refused:
        parse_language(text)
    message = refused.value.message(None)
    assert all(f"{language} ({language.native})" in message for language in Language)


def test_the_cli_refuses_an_unsupported_language_before_loading_anything(capsys):
    from oracle.__main__ import main

    assert main(["ask", "--text", "Will I?", "--language", "klingon"]) == 2
    told = capsys.readouterr().err.splitlines()[-1]
    assert told == say("cli_error", None, message=UnsupportedLanguage().message(None))


def test_the_api_refuses_an_unsupported_language_and_never_answers():
    from oracle.web.flow import OracleFlow

    answerer = RecordingAnswerer()
    flow = OracleFlow(Oracle(None, answerer, None), prepare_voice=False)
    with pytest.raises(gr.Error) as refused:
        flow.ask_text("Will I be lucky?", "klingon")
    assert refused.value.message == UnsupportedLanguage().message(None)
    assert answerer.languages == []


@pytest.mark.parametrize("header, language", [
    ("tlh-KL,xx;q=0.9", None),  # nothing supported: no hint at all, never English by default
    ("nl-NL,nl;q=0.9,fr-BE;q=0.8,en;q=0.5", Language.French),  # unsupported locales are passed over
    ("de-AT", Language.German),
    ("", None),
])
def test_a_browser_locale_is_parsed_and_an_unsupported_one_passed_over(header, language):
    assert browser_language(header) is language


# -- the type round-trips --------------------------------------------------------------------------------

def test_a_language_is_its_code_in_json_and_as_a_key():
    reply = Reply("¿Me irá bien?", "Quien espera, desespera.", Language.Spanish, TYPED, 0.0, 1.0)
    sent = json.dumps({**dataclasses.asdict(reply), "by_language": {Language.Japanese: 1}})
    received = json.loads(sent)
    assert received["language"] == "es" and received["by_language"] == {"ja": 1}
    assert parse_language(received["language"]) is Language.Spanish
    assert {code: SUPPORTED[code] for code in received["by_language"]} == {"ja": Language.Japanese}
    assert [Language(code) for code in json.loads(json.dumps(list(Language)))] == list(Language)


def test_what_gradio_serialises_takes_a_language_as_a_value_and_the_codes_as_keys():
    import orjson  # Gradio's serialiser: it refuses dict keys that are a subclass of str

    sent = orjson.loads(orjson.dumps({"language": Language.Japanese, "words": dict.fromkeys(SUPPORTED, 1)}))
    assert sent == {"language": "ja", "words": {language.value: 1 for language in Language}}


# -- auto is decided before answering, never English by default ----------------------------------------

def test_no_engine_or_pipeline_signature_defaults_the_language():
    from oracle.failover import FailoverAnswerer, FailoverSpeaker
    from oracle.speech.languages import LanguageVoices

    methods = [Oracle.answer, Oracle.speak, Oracle.speak_all, Oracle.reply_to, FailoverAnswerer.answer,
               FailoverSpeaker.stream, LanguageVoices.stream]
    for kind in ("answerer", "tts"):
        for target in ENGINES[kind].values():
            module, factory = target.split(":")
            engine = getattr(importlib.import_module(module), factory)
            methods.append(engine.answer if kind == "answerer" else engine.stream)
    for method in methods:
        language = inspect.signature(method).parameters["language"]
        assert language.default is inspect.Parameter.empty, method.__qualname__


def test_a_typed_question_in_auto_is_answered_in_the_language_of_its_words():
    answerer = RecordingAnswerer()
    oracle = Oracle(None, answerer, None)
    for language in (Language.Spanish, Language.German, Language.Japanese):
        question = QUESTIONS[language][0].text
        reply = oracle.ask_text(question)
        assert reply.language is language and answerer.languages[-1] is language, question
        assert reply.answer == load_book(language)[0].text


def test_a_typed_question_too_short_to_tell_takes_the_browsers_language_then_the_fallback_by_name():
    answerer = RecordingAnswerer()
    oracle = Oracle(None, answerer, None)
    assert oracle.ask_text("42?", hint=Language.French).language is Language.French
    assert oracle.ask_text("42?", hint=Language.Portuguese).language is Language.Portuguese
    assert oracle.ask_text("42?", hint=None).language is FALLBACK_LANGUAGE
    assert answerer.languages == [Language.French, Language.Portuguese, FALLBACK_LANGUAGE]


def test_words_heard_without_their_language_are_given_one():
    assert language_of_heard("¿Debería mudarme a otra ciudad el año que viene?", None) is Language.Spanish
    assert language_of_heard("¿Sí?", Language.Italian) is Language.Italian  # too few words: the browser's
    assert language_of_heard("明日は晴れますか", Language.English) is Language.Japanese  # the script tells


def test_a_spanish_recording_in_auto_without_a_browser_is_answered_in_spanish(oracle, tmp_path_factory):
    """The whole embedded pipeline, as the CLI or an API script without a browser asks: nothing names the
    language, so hearing tells it, and the answer comes from the Spanish book, never the English one."""
    question = QUESTIONS["es"][1]
    reply = oracle.ask(str(recording(question, tmp_path_factory.mktemp("auto-spanish"))))
    assert reply.language is Language.Spanish, reply
    assert reply.answer in {p.text for p in load_book(Language.Spanish)} | {foolish_answer(Language.Spanish)}
    assert reply.answer not in {p.text for p in load_book(Language.English)}
