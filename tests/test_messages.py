"""The messages table (``oracle/messages/<code>.json``) and the page's words (``oracle/web/words``): every
language says every message, with the same blanks, and every error the oracle raises names a message it has.
Judged against the tables themselves, never against sentences written into the tests."""

from __future__ import annotations

import importlib
import json
import re
import string

import pytest

from oracle import errors
from oracle.errors import OracleError, UnusualFormat
from oracle.examples import EXAMPLES_PER_LANGUAGE, example_questions
from oracle.language_id import identify, scores
from oracle.languages import SUPPORTED, UnsupportedLanguage
from oracle.messages import KEYS, TABLE, say
from oracle.web.look import FRONTEND_WORDS, WORDS, WORDS_DIR, timings_line

OTHERS = [code for code in SUPPORTED if code != "en"]
# Modules that define errors of their own, beside oracle.errors.
ERROR_MODULES = ("oracle.errors", "oracle.languages", "oracle.asr.multilingual")


def blanks(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def every_error_class() -> list[type[OracleError]]:
    for module in ERROR_MODULES:
        importlib.import_module(module)
    found, todo = [], [OracleError]
    while todo:
        klass = todo.pop()
        found.append(klass)
        todo.extend(klass.__subclasses__())
    return found


def an_instance(klass: type[OracleError]) -> OracleError:
    if klass is UnusualFormat:
        return klass(2**31 - 1, 1)
    if klass is errors.RequestTooLarge:
        return klass(1024)
    return klass()


def test_every_supported_language_has_a_messages_table_with_every_key():
    assert set(TABLE) == set(SUPPORTED)
    for code, table in TABLE.items():
        assert set(table) == KEYS, f"{code}: missing {KEYS - set(table)}, extra {set(table) - KEYS}"


@pytest.mark.parametrize("code", OTHERS)
def test_each_translation_has_the_english_blanks_and_is_translated(code):
    same_as_english = []
    for key in KEYS:
        english, translated = TABLE["en"][key], TABLE[code][key]
        assert translated.strip() and "\n" not in translated and "<" not in translated, (code, key)
        assert blanks(translated) == blanks(english), (code, key, translated)
        same_as_english += [key] if translated == english else []
    # A few may be written alike ("Error" in Spanish): not the table copied.
    assert len(same_as_english) <= 3, f"{code} says these as English does: {same_as_english}"


def test_every_error_names_a_message_of_the_table_in_every_language():
    classes = every_error_class()
    assert len(classes) > 15
    for klass in classes:
        error = an_instance(klass)
        assert error.key in KEYS, f"{klass.__name__} names no message: {error.key!r}"
        for code in SUPPORTED:
            told = error.message(code)
            assert told and "{" not in told, (klass.__name__, code, told)
            if code != "en" and TABLE[code][error.key] != TABLE["en"][error.key]:
                assert told != error.message("en"), (klass.__name__, code)


def test_english_is_what_old_clients_were_told_and_an_engines_detail_stays_in_the_log():
    assert errors.NoAudio().message() == errors.NoAudio().message("en") == str(errors.NoAudio())
    detail = errors.EngineUnavailable("The Pico voice failed while speaking.")
    assert str(detail) == "The Pico voice failed while speaking."  # for the log
    assert detail.message("fr") == say("engine_unavailable", "fr")  # what a person reads
    assert detail.message() == say("engine_unavailable")
    by_key = errors.EngineUnavailable("hearing_too_slow")
    assert by_key.key == "hearing_too_slow" and str(by_key) == say("hearing_too_slow")
    assert by_key.message("ja") == say("hearing_too_slow", "ja")


def test_a_message_with_values_writes_them_for_its_language():
    refusal = UnusualFormat(2**31 - 1, 1)
    assert "2,147,483,647" in refusal.message("en") and "2.147.483.647" in refusal.message("de")
    assert "2\u202f147\u202f483\u202f647" in refusal.message("fr")
    assert say("channels_one", "fr", count=1) in refusal.message("fr")
    assert say("channels_other", "it", count=9) in UnusualFormat(44100, 9).message("it")
    for code in SUPPORTED:
        listed = UnsupportedLanguage().message(code)
        assert all(f"{other} ({language.native})" in listed for other, language in SUPPORTED.items())


def test_an_unknown_language_is_told_in_english():
    assert errors.BadAudio().message("xx") == errors.BadAudio().message(None) == say("bad_audio")


def test_the_pages_words_exist_in_every_language_with_the_english_blanks():
    english = json.loads(WORDS_DIR.joinpath("en.json").read_text(encoding="utf-8"))
    for code in SUPPORTED:
        own = json.loads(WORDS_DIR.joinpath(f"{code}.json").read_text(encoding="utf-8"))
        assert set(own) == set(english), f"{code}: missing {set(english) - set(own)}"
        for key, text in own.items():
            assert blanks(text) == blanks(english[key]), (code, key)


@pytest.mark.parametrize("code", list(SUPPORTED))
def test_each_language_has_three_example_questions_of_its_own(code):
    questions = example_questions(code)
    assert len(questions) == len(set(questions)) == EXAMPLES_PER_LANGUAGE
    for question in questions:
        assert question.rstrip().endswith(("?", "？")), question
        found = scores(question) if code != "ja" else {identify(question)[0]: 1.0}
        assert max(found, key=found.get) == code, (question, found)  # the likeliest of the seven
    if code != "en":
        assert not set(questions) & set(example_questions("en"))


def test_gradios_own_words_come_for_the_languages_its_frontend_lacks():
    # Gradio 6.17 translates its frontend into es, fr, de, pt, ja, not Italian: the app brings its Italian.
    assert set(FRONTEND_WORDS) == {"it"}
    italian = FRONTEND_WORDS["it"]
    assert {"audio.record", "audio.stop", "common.built_with_gradio", "errors.use_via_api"} <= set(italian)
    assert all(value.strip() for value in italian.values())


@pytest.mark.parametrize("code", list(SUPPORTED))
def test_the_timings_line_is_in_the_visitors_words(code):
    from oracle.pipeline import Reply

    reply = Reply("¿Debería cambiar de trabajo?", "Más vale tarde que nunca.", "es", "spoken", 321.0, 45.0)
    engines = {"hearing": "local (backup for remote)", "answering": "book", "voice": "pico (es-ES)", "robotic": True}
    line = timings_line(reply, 210.0, engines, code)
    said = WORDS[code]
    for key in ("timing_hearing", "timing_answering", "timing_first_audio", "role_hearing", "role_answering",
                "role_voice", "robotic_voice"):
        assert said[key] in line, (key, line)
    assert said["backup_for"].format(backup="local", primary="remote") in line
    assert "321 ms" in line and "Español" in line
    if code != "en":
        english = WORDS["en"]
        assert not re.search(rf"\b{english['timing_answering']}\b", line), line


def test_the_readmes_french_example_is_what_the_table_says():
    readme = (WORDS_DIR.parents[2] / "README.md").read_text(encoding="utf-8")
    english, french = errors.BadAudio().message(), errors.BadAudio().message("fr")
    api = readme[readme.index("Errors come back as"):readme.index("## Command line")]
    assert english in api and " ".join(french.split()) in " ".join(api.split())
