"""The look of the page: the six stages, the Magic 8 Ball and its triangle window, the steps, the
history rows, the dark theme and the CSS (``oracle.css``).

The page walks through six visible stages (``oracle.web.stages``: the stages and the moves between them),
shown twice: as a row of steps (``#status``) and on the ball itself (``#ball``), whose triangle window
holds the answer.

The browser-only steps (``BrowserStep``: values set at once, in the browser, with no server round trip) are
made from updates keyed by component, as the server's steps are.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import gradio as gr

from oracle.languages import AUTO, SUPPORTED
from oracle.pipeline import Reply
from oracle.web.gradio_adapter.frontend_locale import (flat_frontend_words, frontend_locale_head,
                                                       frontend_locale_setter_js, frontend_locales)
from oracle.web.gradio_adapter.page import GRADIO_DOM, after_drawn_js, dark_only
from oracle.web.stages import Stage


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


# How oracle.failover names an engine standing in for another: "local (backup for remote)".
BACKUP_NAME = re.compile(r"(?P<backup>.+) \(backup for (?P<primary>.+)\)")


def _engine(name: str, said: dict[str, str]) -> str:
    stand_in = BACKUP_NAME.fullmatch(name)
    return said["backup_for"].format(**stand_in.groupdict()) if stand_in else name


def timings_line(reply: Reply | None, first_audio_ms: float | None, engines: dict, language: str | None = None) -> str:
    """How long each step took and which engines answered (``Oracle.engines_of``), in ``language``'s words
    (the engines' names are names)."""
    if reply is None:
        return ""
    said = words(language)
    spoken_in = SUPPORTED[reply.language].native if reply.language in SUPPORTED else reply.language
    heard = said["timing_typed"] if reply.typed else f"{said['timing_hearing']} {_ms(reply.hear_ms)}"
    voice = _engine(engines["voice"], said) + (f" ({said['robotic_voice']})" if engines.get("robotic") else "")
    return (f"🗣 {spoken_in} · ⏱ {heard} · {said['timing_answering']} {_ms(reply.answer_ms)} · "
            f"{said['timing_first_audio']} {_ms(first_audio_ms)}  \n"
            f"⚙ {said['role_hearing']}: {_engine(engines['hearing'], said)} · "
            f"{said['role_answering']}: {_engine(engines['answering'], said)} · {said['role_voice']}: {voice}")


# ---- The page's own words, in every supported language (oracle/web/words/<code>.json) ----

WORDS_DIR = Path(__file__).with_name("words")
ENGLISH_WORDS: dict[str, str] = json.loads((WORDS_DIR / "en.json").read_text(encoding="utf-8"))
WORDS: dict[str, dict[str, str]] = {
    code: {**ENGLISH_WORDS, **json.loads(path.read_text(encoding="utf-8"))}
    for code in SUPPORTED if (path := WORDS_DIR / f"{code}.json").is_file()}


def words(language: str | None) -> dict[str, str]:
    """The page's words in ``language`` (a visitor's browser language), English where there are none."""
    return WORDS.get(language or "en", ENGLISH_WORDS)


# Gradio's own words (its buttons, its footer) for a language its frontend does not translate itself.
FRONTEND_WORDS: dict[str, dict[str, str]] = {
    path.stem: flat_frontend_words(json.loads(path.read_text(encoding="utf-8")))
    for path in sorted((WORDS_DIR / "gradio").glob("*.json"))}
# Component labels are translated by Gradio in the browser (``launch(i18n=...)``); ``say("key")`` names one.
I18N = gr.I18n(**{code: {**FRONTEND_WORDS.get(code, {}), **said} for code, said in WORDS.items()})
# The page's languages Gradio's frontend shows in English, its own words and the labels above alike: the page's
# script switches it to them (page_language_js).
UNTRANSLATED_BY_GRADIO = sorted(code for code in WORDS if code not in frontend_locales())


def say(key: str):
    return I18N(key)


# ---- The look: stages, the ball, the steps ----

STAGES = tuple(Stage)  # in the order the steps show them
# What the triangle in the ball's window says while there is no answer to show (words' "die_<stage>").
DIE_STAGES = (Stage.READY, Stage.LISTENING, Stage.HEARING, Stage.CONSULTING)


# The triangle, in units of the ball's width (cqi): 80 % of a window 64 % wide, and 0.866 as tall.
DIE_WIDTH, DIE_HEIGHT = 51.2, 44.3
LINE_HEIGHT = 1.13


def _lines_fit(words: list[str], size: float, top: float, em_width: float) -> float | None:
    """Lay ``words`` out line by line in the narrowing triangle: the height they take, or None if a
    line would spill out of it. Sizes in cqi; a line's width is the triangle's at the line's bottom."""

    def room(line_top: float) -> float:
        return DIE_WIDTH * (1 - (line_top + LINE_HEIGHT * size) / DIE_HEIGHT) - 2.5

    y, line = top, ""
    for word in words:
        if len(f"{line} {word}".strip()) * em_width * size <= room(y):
            line = f"{line} {word}".strip()
        elif line and len(word) * em_width * size <= room(y + LINE_HEIGHT * size):
            y, line = y + LINE_HEIGHT * size, word
        else:
            return None
    return y + LINE_HEIGHT * size - top


def _die_text_style(text: str) -> tuple[str, bool]:
    """A font size (cqi) a little under the largest whose lines all fit in the triangle, and the block
    as near the triangle's centre as it fits. Short answers are in capitals, like a real Magic 8 Ball."""
    capitals = len(text) <= 14
    em_width = 0.85 if capitals else 0.62  # a generous average glyph width, bold (wide fonts too)
    words = text.split() or [""]
    largest = 7.0 / 0.9
    while largest > 2.2 and _lines_fit(words, largest, 1.5, em_width) is None:
        largest -= 0.1
    size = max(2.0, min(7.0, largest * 0.9))
    height = _lines_fit(words, size, 1.5, em_width) or 0.0
    top = max(1.5, DIE_HEIGHT / 3 - height / 2)
    while top > 1.5 and _lines_fit(words, size, top, em_width) is None:
        top -= 0.5
    return f"font-size:{size:.1f}cqi;padding-top:{max(top, 1.5):.1f}cqi", capitals


def ball_html(stage: Stage, answer: str | None = None, failed: bool = False, language: str | None = None) -> str:
    """The Magic 8 Ball; its triangle shows the answer, a stage word, or "Reply hazy" after a failure.
    ``language``: the visitor's (the page's words)."""
    said = words(language)
    if failed:
        text = said["hazy"]
    elif answer and stage in (Stage.CONSULTING, Stage.SPEAKING, Stage.DONE):
        text = answer
    else:
        text = said[f"die_{stage if stage in DIE_STAGES else 'ready'}"]
    style, capitals = _die_text_style(text)
    classes = f"oracle-ball stage-{stage}" + (" failed" if failed else "") + (" answered" if answer else "")
    label = f"{said['ball_says']} {text}" if answer or failed else said["the_ball"]
    return (
        f'<div class="{classes}" data-stage="{stage}">'
        f'<div class="ball" role="img" aria-label="{html.escape(label)}">'
        '<div class="window"><div class="die">'
        '<span class="edge left"></span><span class="edge right"></span>'
        f'<p class="die-text{" capitals" if capitals else ""}" style="{style}" id="answer-text">{html.escape(text)}</p>'
        '</div></div></div></div>'
    )


def status_html(stage: Stage, message: str | None = None, failed: bool = False, typed: bool = False,
                answer: str | None = None, language: str | None = None) -> str:
    """The six stages as steps, the current one lit. The sentence under them is what screen readers
    announce: the stage, what to do, and the answer once there is one. ``message``: a key of the page's
    words, or the oracle's own sentence."""
    said = words(language)
    now = STAGES.index(stage)
    steps = []
    for index, name in enumerate(STAGES):
        if name == stage:
            state = "current"
        elif typed and name in (Stage.LISTENING, Stage.HEARING):
            state = "skipped"
        else:
            state = "past" if index < now else "todo"
        steps.append(f'<li class="step {state}"><span class="dot"></span>'
                     f'<span class="step-label">{said[f"stage_{name}"]}</span></li>')
    hint = said.get(message, message) if message else said[f"hint_{stage}"]
    spoken = f"{said['ball_says']} {answer} " if answer else ""
    return (
        f'<div class="oracle-status stage-{stage}{" failed" if failed else ""}" data-stage="{stage}">'
        f'<ol class="steps" aria-hidden="true">{"".join(steps)}</ol>'
        f'<p class="hint" role="status" aria-live="polite">'
        f'<span class="sr-only">{said[f"stage_{stage}"]}. {html.escape(spoken)}</span>{html.escape(hint)}</p></div>'
    )


def heard_html(question: str | None, language: str | None = None) -> str:
    """What was heard. The question is a button: it puts the words in the question box, to correct and ask
    again (the page's script does that)."""
    if not question:
        return ""
    said = {key: html.escape(value, quote=True) for key, value in words(language).items()}
    quoted = html.escape(question, quote=True)
    return (f'<p class="heard-line"><span class="heard-label">{said["you_asked"]}</span> '
            f'<button type="button" class="heard-edit" data-question="{quoted}" title="{said["correct_it"]}" '
            f'aria-label="{said["you_asked"]} {quoted}. {said["correct_it"]}">“{quoted}”</button></p>')


def live_html(heard: str = "", seconds: float = 0.0, speech: bool = False, prepared: bool = False,
              ended: bool = False, failed: bool = False, language: str | None = None) -> str:
    """The words heard so far while the person speaks. Its data attributes are the page's whole contract with
    the server: how much audio the server has, whether it heard speech, whether an answer is prepared (the
    person paused: oracle.css brightens the words, as Stop now answers at once), whether the question has
    ended by itself (hands-free: the script stops recording then), and whether the recording failed (the
    script stops it too, and Stop tells why)."""
    shown = f"{html.escape(words(language)['hearing_so_far'])} “{html.escape(heard)}…”" if heard else ""
    flags = {"speech": speech, "prepared": prepared, "ended": ended, "failed": failed}
    data = " ".join(f'data-{name}="{str(value).lower()}"' for name, value in flags.items())
    return f'<p class="live-words" data-seconds="{seconds:.2f}" {data}>{shown}</p>'


def history_entry_html(number: int, item: dict) -> str:
    return (f'<div class="history-text"><p class="history-q"><span class="history-n">{number}.</span> '
            f'{html.escape(item["question"])}</p><p class="history-a">🎱 {html.escape(item["answer"])}</p></div>')


def history_title_html(language: str | None = None) -> str:
    said = words(language)
    return f'<h2>{html.escape(said["history_title"])}</h2><p>{html.escape(said["history_note"])}</p>'


def header_html(language: str | None = None) -> str:
    said = words(language)
    return ('<header class="masthead"><div class="mini-ball" aria-hidden="true"><span>8</span></div>'
            f'<div><h1>{html.escape(said["title"])}</h1><p>{html.escape(said["tagline"])}</p></div></header>')


# Only the dark values are set: ``dark_only`` then uses them in light mode too. It must run last, because
# ``Theme.set()`` re-assigns some light values from defaults.
# System fonts: nothing to download, and each phone or laptop shows its own familiar face.
SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
                "sans-serif")
THEME = dark_only(gr.themes.Default(primary_hue="indigo", secondary_hue="violet", neutral_hue="slate",
                                     font=SYSTEM_FONTS).set(
    body_background_fill_dark="radial-gradient(ellipse at top, #1b1d3a 0%, #0a0a14 55%, #050509 100%)",
    background_fill_primary_dark="#10111f",
    background_fill_secondary_dark="#181a30",
    block_background_fill_dark="#14162a",
    block_border_color_dark="#2a2d4d",
    block_label_background_fill_dark="#1d2040",
    block_label_text_color_dark="#c9cdf5",
    input_background_fill_dark="#0d0e1c",
    button_primary_background_fill_dark="linear-gradient(135deg, #4f5bff, #8a3ffc)",
    button_primary_background_fill_hover_dark="linear-gradient(135deg, #6470ff, #9b5bff)",
    button_primary_text_color_dark="#ffffff",
))

CSS = (Path(__file__).with_name("oracle.css")).read_text(encoding="utf-8")


# The browser's language as the page's words know it (the language Gradio translates its own buttons into).
BROWSER_LANGUAGE_JS = "(WORDS[(navigator.language || 'en').slice(0, 2).toLowerCase()] || WORDS.en)"


def _by_language(make) -> str:
    """A JS object of ``make(language)`` for each language the page's words exist in."""
    return json.dumps({code: make(code) for code in WORDS}, ensure_ascii=False)


PAGE_SCRIPT = (Path(__file__).with_name("page.js").read_text(encoding="utf-8")
               .replace("__MESSAGES__", "((WORDS) => " + BROWSER_LANGUAGE_JS + ")(" + _by_language(lambda code: {
                   "refused": words(code)["microphone_refused"], "missing": words(code)["microphone_missing"],
                   "unsupported": words(code)["microphone_unsupported"], "opening": words(code)["opening_microphone"],
                   "listening": words(code)["hint_listening"]}) + ")")
               .replace("__GRADIO_DOM__", json.dumps(GRADIO_DOM)))

# Switches Gradio's frontend to the browser's language, where Gradio does not translate itself, before it draws
# the components: its recorder takes its words (Record, Stop) once, when drawn.
FRONTEND_LOCALE_HEAD = frontend_locale_head(UNTRANSLATED_BY_GRADIO)
# What every launch() of the app brings (see gradio_adapter.page.BlocksWithLook).
LOOK = {"theme": THEME, "css": CSS, "i18n": I18N, "head": FRONTEND_LOCALE_HEAD}


# What a browser-only step sets, in one language: an update (a value) for each component.
Updates = Mapping[Any, Any]


@dataclass(frozen=True)
class BrowserStep:
    """A browser-only event handler: ``js`` sets ``outputs`` at once, with no server round trip
    (``trigger(None, None, step.outputs, js=step.js)``)."""

    outputs: list
    js: str


def _in_order(make: Callable[[str], Updates]) -> tuple[list, Callable[[str], list]]:
    """The components ``make`` updates, and ``make(language)`` as values in their order (what Gradio's
    browser-side handlers return)."""
    outputs = list(make("en"))

    def in_order(language: str) -> list:
        updates = make(language)
        return [updates[component] for component in outputs]

    return outputs, in_order


def js_values(make: Callable[[str], Updates]) -> BrowserStep:
    """A browser-only step that sets the updates of ``make(language)`` in the browser's language."""
    outputs, values = _in_order(make)
    return BrowserStep(outputs, f"() => ((WORDS) => {BROWSER_LANGUAGE_JS})({_by_language(values)})")


def js_values_unless_answer_kept(make: Callable[[str], Updates]) -> BrowserStep:
    """Like ``js_values``, except when the page's script re-arms the microphone while the answer plays
    (hands-free barge-in): then nothing changes, and the answer plays on until the person speaks."""
    outputs, values = _in_order(make)
    keep = [gr.skip()] * len(outputs)
    # The flag is left for the page's script to clear: Gradio 6.17 fires start_recording twice per press.
    return BrowserStep(outputs, f"() => window.oracleKeepAnswer === true ? {json.dumps(keep)} : "
                                f"((WORDS) => {BROWSER_LANGUAGE_JS})({_by_language(values)})")


class SharedValues:
    """Browser-only steps like ``js_values`` whose tables of values (one per language) the page receives
    once, however many events share them: ``step(make)`` for each event, and ``script()`` run at page load.
    Every example set's event would otherwise carry every language's ball and steps (8.7 kB each: 14 example
    sets made the page's config twice as large)."""

    def __init__(self) -> None:
        self._tables: dict[str, str] = {}  # a table (JSON) -> its name

    def step(self, make: Callable[[str], Updates]) -> BrowserStep:
        outputs, values = _in_order(make)
        table = _by_language(values)
        name = json.dumps(self._tables.setdefault(table, f"values-{len(self._tables)}"))
        unchanged = json.dumps([gr.skip()] * len(outputs))  # before the script has run
        return BrowserStep(outputs, f"() => window.oracleValues ? window.oracleValues({name}) : {unchanged}")

    def script(self) -> str:
        tables = ", ".join(f"{json.dumps(name)}: {table}" for table, name in self._tables.items())
        return (f"() => {{ const TABLES = {{{tables}}};"
                f" window.oracleValues = (name) => ((WORDS) => {BROWSER_LANGUAGE_JS})(TABLES[name]); }}")


# ---- The language control and the examples, chosen in the browser ----

BROWSER_CODE_JS = ("((code) => CODES.includes(code) ? code : 'en')"
                   "((navigator.language || 'en').slice(0, 2).toLowerCase())")


def _show_examples_js(example_sets: Mapping[Any, str]) -> str:
    """A JS function of a language code: visibility updates for ``example_sets`` (each example set's
    component, and its language), in their order: those of that language show. The others stay in the page,
    hidden: Gradio 6.17 does not draw a component that was never drawn when an update from the browser
    makes it visible."""
    show, hide = json.dumps(gr.update(visible=True)), json.dumps(gr.update(visible="hidden"))
    return f"((code) => {json.dumps(list(example_sets.values()))}.map((its) => its === code ? {show} : {hide}))"


def page_language(language_control, example_sets: Mapping[Any, str]) -> BrowserStep:
    """At page load, in the browser, updates for the language control and the example sets:

    - the language control's choices with "Auto" in the browser's words (plain labels: Gradio 6.17 would send
      a translated label as the value);
    - the examples of the browser's language (``example_sets``: each example set's component, and its
      language).

    And Gradio's own words in the browser's language where Gradio does not translate them itself (Italian),
    if ``FRONTEND_LOCALE_HEAD`` has not switched them already."""
    named = [[language.native, key] for key, language in SUPPORTED.items()]
    choices = {code: gr.update(choices=[[words(code)["language_auto"], AUTO], *named]) for code in WORDS}
    setter = frontend_locale_setter_js()
    switch = f" if ({json.dumps(UNTRANSLATED_BY_GRADIO)}.includes(code)) await {setter}(code);" if setter else ""
    return BrowserStep([language_control, *example_sets], (
        f"async () => {{ const CODES = {json.dumps(list(WORDS))}; const code = {BROWSER_CODE_JS};"
        f" {after_drawn_js('language', 'dropdown')}{switch}"
        f" return [{json.dumps(choices, ensure_ascii=False)}[code], ...{_show_examples_js(example_sets)}(code)]; }}"))


def examples_for_choice(example_sets: Mapping[Any, str]) -> BrowserStep:
    """When the language control changes: the examples of the language chosen (Auto: the browser's)."""
    return BrowserStep(list(example_sets), (
        f"(choice) => {{ const CODES = {json.dumps(list(WORDS))};"
        f" const code = CODES.includes(choice) ? choice : {BROWSER_CODE_JS};"
        f" return {_show_examples_js(example_sets)}(code); }}"))
