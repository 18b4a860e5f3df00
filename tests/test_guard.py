"""The sanitizer every answer passes, whatever produced it."""

import pytest

from oracle.answer.guard import FALLBACK_ANSWER, MAX_ANSWER_CHARS, sanitize


@pytest.mark.parametrize("raw, clean", [
    ("Curiosity killed the cat.", "Curiosity killed the cat."),
    ("**Curiosity** killed the _cat_", "Curiosity killed the cat."),
    ("Answer: \"Still waters run deep.\"", "Still waters run deep."),
    ("As the Magic 8 Ball says, look before you leap.", "As the says, look before you leap."),
    ("Read [this](https://example.com/x). Haste makes waste.", "Read this. Haste makes waste."),
    ("Visit www.example.com now! Patience is a virtue.", "Visit now! Patience is a virtue."),
    ("<b>Time</b> heals all wounds. <script>alert(1)</script>", "Time heals all wounds."),
    ("The early bird gets the worm.\n\nHere is why: birds rise early.", "The early bird gets the worm."),
    ("# Fortune favours the bold", "Fortune favours the bold."),
])
def test_markup_links_and_the_balls_name_are_removed(raw, clean):
    assert sanitize(raw) == clean


@pytest.mark.parametrize("raw", [None, "", "   ", "```python\nimport os\nos.remove('x')\n```", "🎱🎱🎱", "..."])
def test_nothing_usable_becomes_the_fallback_proverb(raw):
    assert sanitize(raw) == FALLBACK_ANSWER


def test_long_answers_are_capped_at_a_sentence_or_word_boundary():
    essay = "A stitch in time saves nine. " + "Many words follow here to make an essay. " * 60
    capped = sanitize(essay)
    assert len(capped) <= MAX_ANSWER_CHARS
    assert capped.startswith("A stitch in time saves nine.")
    one_long_sentence = sanitize("word " * 400)
    assert len(one_long_sentence) <= MAX_ANSWER_CHARS + 1 and one_long_sentence.endswith(".")


def test_no_magic_8_ball_in_any_spelling():
    for spelling in ["Magic 8 Ball", "magic 8-ball", "MAGIC EIGHT BALL", "Magic8Ball"]:
        assert "magic" not in sanitize(f"The {spelling} knows: time will tell.").lower()
