"""The app as its users meet it: a real headless Chromium with a (fake) microphone, on 127.0.0.1.

The page's own Record and Stop buttons record a spoken question; the test then checks every stage the
page shows, that the answer appears in the ball, that the answer audio really plays (its currentTime
advances), that the visit's history offers the spoken answer as a download, and that a typed question
is answered and heard too. A second test checks a phone-sized screen, and that a typed and a spoken
example each ask with one tap. Each stage is photographed into $SCREENSHOT_DIR (or a temporary
directory, printed at the end); ``readme.png`` there is the README's screenshot (docs/screenshot.png).
"""

from __future__ import annotations

import re

import pytest
import soundfile

from oracle.audio import wav_bytes

from harness.browser_tools import (MICROPHONE_TAIL_S, PageErrors, QueueGate, browser_flags,
                                   forget_answer_playback, microphone_wav, page_state, screenshot_dir, small_png,
                                   wait_for_answer_playback, wait_for_recording, watch_answer_playback)
from oracle.languages import ENGLISH

QUESTION = "Should I learn to play the piano?"
TYPED_QUESTION = "Will my garden grow this summer?"
WAIT_MS = 30_000  # the longest any single step may take
NO_HORIZONTAL_OVERFLOW = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture(scope="session")
def question_wav(oracle, tmp_path_factory):
    """The question spoken by the app's own Piper voice, ready for Chromium's fake microphone."""
    directory = tmp_path_factory.mktemp("microphone")
    spoken = directory / "question-22k.wav"
    spoken.write_bytes(wav_bytes(oracle.speak_all(QUESTION, ENGLISH), oracle.sample_rate))
    return microphone_wav(spoken, directory / "question.wav")


@pytest.fixture(scope="session")
def question_seconds(question_wav) -> float:
    """How long the fake microphone takes to say the question, from the start of a recording."""
    return soundfile.info(question_wav).duration - MICROPHONE_TAIL_S


@pytest.fixture(scope="module")  # Playwright's sync API keeps an asyncio loop running while it is open
def browser(chromium_path, question_wav):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True,
                                             args=browser_flags(question_wav), timeout=WAIT_MS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory):
    directory = screenshot_dir(tmp_path_factory.mktemp("screenshots"))
    yield directory
    print(f"\nbrowser screenshots: {directory}")


def open_page(browser, server_url, **context_options):
    context = browser.new_context(**context_options)
    watch_answer_playback(context)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.errors = PageErrors(page)
    page.goto(server_url, wait_until="load")
    wait_for_stage(page, "ready")
    return context, page


def wait_for_stage(page, stage: str, timeout_ms: int = WAIT_MS):
    """Wait until the page shows ``stage``; a page error on the way fails at once, with the page's state."""
    page.errors.check()
    try:
        page.wait_for_selector(f'#status [data-stage="{stage}"]', timeout=timeout_ms)
    except Exception as error:
        raise AssertionError(f"the page never reached {stage!r}: {page_state(page)}; errors: {page.errors}") from error
    page.errors.check()


def ball_text(page) -> str:
    return page.locator("#answer-text").text_content().strip()


def assert_answer_plays(page):
    """The <audio> element plays the answer: its time moves on while it is not paused."""
    wait_for_answer_playback(page, seconds=0.5)


def assert_every_control_is_named(page):
    """Screen readers get a name for every button, text box, list box and link in the app."""
    tree = page.locator("#main").aria_snapshot()
    unnamed = [line for line in tree.splitlines()
               if re.match(r"\s*- (button|textbox|combobox|link|slider|checkbox)\s*(:|$)", line)]
    assert not unnamed, f"controls without an accessible name: {unnamed}\n{tree}"


def test_browser_asks_aloud_and_typed_and_hears_both_answers(browser, server_url, shots, oracle, question_seconds):
    proverbs = {proverb.text for proverb in oracle.answerer.proverbs}
    context, page = open_page(browser, server_url, viewport={"width": 1280, "height": 900})
    try:
        assert page.evaluate(NO_HORIZONTAL_OVERFLOW)
        assert_every_control_is_named(page)
        page.screenshot(path=shots / "1-ready.png", full_page=True)

        # Spoken: the page's own Record and Stop buttons, the fake microphone plays the question.
        microphone = page.locator("#question-audio")
        microphone.get_by_role("button", name="Record").click()
        wait_for_stage(page, "listening")
        wait_for_recording(page, question_seconds)  # the audio the server holds, as the page shows it
        page.screenshot(path=shots / "2-listening.png")
        with QueueGate(page) as gate:  # hold the question at the door a moment, to photograph "hearing"
            microphone.get_by_role("button", name="Stop").click()
            wait_for_stage(page, "hearing")  # set in the browser once the recording is uploaded
            gate.wait_until_holding()
            page.screenshot(path=shots / "3-hearing.png")
        page.wait_for_selector("#heard .heard-line")
        heard = page.locator("#heard").inner_text()
        assert heard.startswith("You asked:") and "piano" in heard.lower(), heard
        page.screenshot(path=shots / "4-heard.png")

        wait_for_stage(page, "speaking")
        assert_answer_plays(page)
        spoken_answer = ball_text(page)
        assert spoken_answer in proverbs, spoken_answer
        page.screenshot(path=shots / "5-speaking.png")

        wait_for_stage(page, "done")  # when the <audio> element reaches the end of the answer
        forget_answer_playback(page)
        assert ball_text(page) == spoken_answer
        assert "hearing" in page.locator("#timings").inner_text()
        page.screenshot(path=shots / "6-done.png")
        small_png(shots / "6-done.png", shots / "readme.png")

        # The visit's history holds the question, the answer and the spoken answer as a WAV file.
        history = page.locator(".history-item")
        assert history.count() == 1 and spoken_answer in history.first.inner_text()
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download answer 1").click()
        saved = shots / "downloaded-answer-1.wav"
        download_info.value.save_as(saved)
        audio, rate = soundfile.read(saved, dtype="int16")
        assert rate == oracle.sample_rate and audio.size / rate > 0.5

        # Enter on an empty question: the ball's classic "Reply hazy", and why, under the steps.
        textbox = page.locator("#question-text textarea")
        textbox.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("#status .failed")
        assert ball_text(page) == "Reply hazy, try again"
        assert "type a question" in page.locator("#status .hint").inner_text()
        page.screenshot(path=shots / "error-empty-question.png")

        # Typed, with the keyboard only: type, press Enter, and the new answer plays too.
        page.keyboard.type(TYPED_QUESTION)
        with QueueGate(page) as gate:
            page.keyboard.press("Enter")
            wait_for_stage(page, "consulting")
            gate.wait_until_holding()
            page.screenshot(path=shots / "7-typed-consulting.png")
        page.wait_for_function("(q) => document.querySelector('#heard').innerText.includes(q)", arg=TYPED_QUESTION)
        wait_for_stage(page, "speaking")
        assert_answer_plays(page)
        typed_answer = ball_text(page)
        assert typed_answer in proverbs, typed_answer
        page.screenshot(path=shots / "8-typed-speaking.png")
        wait_for_stage(page, "done")
        assert history.count() == 2 and typed_answer in history.first.inner_text()
        assert page.evaluate(NO_HORIZONTAL_OVERFLOW)
        page.screenshot(path=shots / "9-typed-done.png", full_page=True)
        page.errors.check()
    finally:
        context.close()


def test_browser_phone_screen_fits_and_examples_ask_with_one_tap(browser, server_url, shots):
    phone = {"width": 390, "height": 844}
    context, page = open_page(browser, server_url, viewport=phone, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    try:
        assert page.evaluate(NO_HORIZONTAL_OVERFLOW), "the page scrolls sideways on a phone"
        page.screenshot(path=shots / "phone-1-ready.png")  # the first screen, as a visitor sees it
        # A new visitor (a new session) starts with an empty history, whatever others asked before.
        assert page.locator(".history-item").count() == 0
        # The ball and the Record button are on the first screen, no scrolling needed.
        record = page.locator("#question-audio").get_by_role("button", name="Record")
        for control in (page.locator("#ball .ball"), record):
            box = control.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= phone["width"], box
            assert box["y"] + box["height"] <= phone["height"], f"below the first screen: {box}"
        for control in (page.locator("#question-text textarea"), page.locator("#ask-button"),
                        page.get_by_role("button", name=re.compile("Should I take the new job"))):
            control.first.scroll_into_view_if_needed()
            assert control.first.is_visible()
            box = control.first.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= phone["width"], box

        # A typed example, one tap: it is asked and answered, and the page still fits.
        page.get_by_role("button", name=re.compile(r"^Will I find love this year\?$")).tap()
        wait_for_stage(page, "speaking")
        assert page.locator("#heard").inner_text().endswith("“Will I find love this year?”")
        assert_answer_plays(page)
        page.locator("#ball").scroll_into_view_if_needed()
        page.screenshot(path=shots / "phone-2-answered.png")
        wait_for_stage(page, "done")
        forget_answer_playback(page)

        # A spoken example, one tap: its recording is heard, answered and spoken.
        page.get_by_role("button", name=re.compile(r"Is it a good time to buy a house\?$")).first.tap()
        page.wait_for_function("() => document.querySelector('#heard').innerText.toLowerCase().includes('house')")
        wait_for_stage(page, "speaking")
        assert_answer_plays(page)
        wait_for_stage(page, "done")
        assert page.locator(".history-item").count() == 2
        assert page.evaluate(NO_HORIZONTAL_OVERFLOW), "the answered page scrolls sideways on a phone"
        page.screenshot(path=shots / "phone-3-done.png", full_page=True)
        page.errors.check()
    finally:
        context.close()
