"""The page in each supported language but English, as a visitor whose browser speaks it meets it: headless
Chromium launched with ``--lang`` and a context locale (so ``navigator.language`` and ``Accept-Language`` agree).

For each: no English words of the app's tables (or Gradio's own, on the page) show; the language control says
"Auto" in that language; the examples shown are that language's; a spoken example is heard in that language
and answered from its book, with the timings line in its words; an empty question is refused in its words.
Screenshots go to ``$SCREENSHOT_DIR`` (or a temporary directory, printed at the end): ``<locale>-ready.png``,
``<locale>-answered.png``.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

import pytest

from oracle.answer.library import load_book
from oracle.answer.guard import FOOLISH_ANSWERS
from oracle.errors import EmptyQuestion
from oracle.examples import example_questions
from oracle.languages import SUPPORTED
from oracle.messages import TABLE
from oracle.web.look import WORDS
from harness.browser_tools import screenshot_dir
from harness.live_browser import WAIT_MS, chromium, drive, open_page, wait_for_stage

LOCALES = ("fr-FR", "es-ES", "de-DE", "it-IT", "pt-BR", "ja-JP")
# Gradio's own English words that show on this page at rest (its recorder, its footer): a browser in a
# language Gradio's frontend does not know (Italian) would see them.
GRADIO_ENGLISH = ("Record", "Stop", "No microphone found", "Use via API", "Built with Gradio", "Settings")
VISIBLE_TEXT = "() => document.body.innerText"
SHOWN_EXAMPLES = """(code) => [...document.querySelectorAll(`#spoken-examples-${code} button, #typed-examples-${code} button`)]
    .filter((button) => button.checkVisibility()).map((button) => button.innerText.trim())"""
ALL_SHOWN_EXAMPLES = """() => [...document.querySelectorAll('[id^="spoken-examples-"], [id^="typed-examples-"]')]
    .filter((set) => set.checkVisibility()).map((set) => set.id)"""


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    directory = screenshot_dir(tmp_path_factory.mktemp("language-screenshots"))
    yield directory
    print(f"\nbrowser screenshots: {directory}")


def english_phrases(code: str) -> list[str]:
    """What the app says in English and says otherwise in ``code``: none of it may show on that page."""
    english = [(WORDS["en"], WORDS[code]), (TABLE["en"], TABLE[code])]
    phrases = [text for ours, theirs in english for key, text in ours.items() if theirs.get(key) != text]
    return [phrase for phrase in phrases if "{" not in phrase] + list(example_questions("en")) + list(GRADIO_ENGLISH)


def assert_no_english(text: str, code: str, where: str) -> None:
    shown = [phrase for phrase in english_phrases(code)
             if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text)]
    assert not shown, f"English on the {code} page ({where}): {shown}\n{text}"


def plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))


def heard_like(said: str, heard: str) -> float:
    """How alike two questions are, letter by letter (accents, case, spaces and punctuation aside)."""
    return difflib.SequenceMatcher(None, plain(said), plain(heard)).ratio()


@pytest.mark.parametrize("locale", LOCALES)
def test_the_page_is_in_the_browsers_language_and_its_examples_are_asked_in_it(chromium_path, server_url, shots,
                                                                                locale):
    code = locale[:2]
    said = WORDS[code]
    questions = example_questions(code)
    answers = {proverb.text for proverb in load_book(code)} | {FOOLISH_ANSWERS[code]}

    def scenario(playwright):
        with chromium(playwright, chromium_path, None, locale=locale) as browser:
            page = open_page(browser, server_url, locale=locale, viewport={"width": 1280, "height": 900})
            # The examples of this language, and only those, once the page's script has chosen.
            page.wait_for_function(f"() => {ALL_SHOWN_EXAMPLES}().join() === "
                                   f"'spoken-examples-{code},typed-examples-{code}'", timeout=WAIT_MS)
            assert page.evaluate(SHOWN_EXAMPLES, code) == [f"🔊 {q}" for q in questions] + questions
            page.wait_for_function("(auto) => document.querySelector('#language input').value === auto",
                                   arg=said["language_auto"], timeout=WAIT_MS)
            page.wait_for_timeout(300)  # Gradio draws its own words as its translations load
            page.screenshot(path=shots / f"{locale}-ready.png", full_page=True)
            assert_no_english(page.evaluate(VISIBLE_TEXT), code, "at rest")

            # A spoken example: heard in its language, answered from its book, the timings in its words.
            page.get_by_role("button", name=f"🔊 {questions[0]}").click()
            wait_for_stage(page, "speaking", timeout_ms=60_000)
            heard = page.locator("#heard .heard-edit").get_attribute("data-question")
            assert heard_like(questions[0], heard) >= 0.6, (questions[0], heard)
            answer = page.locator("#answer-text").text_content().strip()
            assert answer in answers, f"not from the {code} book: {answer!r}"
            page.wait_for_function("(word) => document.querySelector('#timings').innerText.includes(word)",
                                   arg=said["timing_answering"], timeout=WAIT_MS)
            page.screenshot(path=shots / f"{locale}-answered.png", full_page=True)
            assert_no_english(page.evaluate(VISIBLE_TEXT), code, "answered")

            # Another language chosen: its examples; Auto again (its label in this language): this one's.
            other = "ja" if code != "ja" else "de"
            for choice, shown in ((SUPPORTED[other].native, other), (said["language_auto"], code)):
                page.locator("#language input").click()
                page.get_by_role("option", name=choice, exact=True).click()
                page.wait_for_function(f"() => {ALL_SHOWN_EXAMPLES}().join() === "
                                       f"'spoken-examples-{shown},typed-examples-{shown}'", timeout=WAIT_MS)

            # An empty question (Auto chosen anew): refused in this language, under the steps and in the ball.
            page.locator("#question-text textarea").fill("")
            page.locator("#question-text textarea").press("Enter")
            page.wait_for_selector("#status .failed", timeout=WAIT_MS)
            assert page.locator("#status .hint").inner_text().strip().endswith(EmptyQuestion().message(code))
            assert page.locator("#answer-text").text_content().strip() == said["hazy"]
            assert not page.errors, page.errors

    drive(scenario)
