"""The page's stages are one table (``oracle/web/stages.py``), enforced where the page is moved, and described
as the table says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oracle.web import stages
from oracle.web.look import STAGES
from oracle.web.stages import ASKING, MOVES, NotAMove, Stage, ask, move

ROOT = Path(__file__).parents[1]


def test_every_stage_has_its_moves_and_nothing_moves_back_to_ready():
    assert set(MOVES) == set(Stage)
    assert all(Stage.READY not in allowed for allowed in MOVES.values())
    assert all(ASKING <= allowed for allowed in MOVES.values()), "a new question starts from every stage"


@pytest.mark.parametrize("current, to", [(Stage.HEARING, Stage.SPEAKING), (Stage.DONE, Stage.SPEAKING),
                                         (Stage.LISTENING, Stage.DONE), (Stage.SPEAKING, Stage.READY)])
def test_a_move_not_in_the_table_raises(current, to):
    with pytest.raises(NotAMove, match=f"from {current} to {to}"):
        move(current, to)


def test_the_moves_in_the_table_are_made():
    assert move(Stage.CONSULTING, Stage.SPEAKING) is Stage.SPEAKING
    assert move(Stage.SPEAKING, Stage.DONE) is Stage.DONE
    assert ask(Stage.LISTENING) is Stage.LISTENING
    with pytest.raises(NotAMove):
        ask(Stage.SPEAKING)


def test_the_docstring_describes_the_table():
    described = {(Stage(current), Stage(to))
                 for current, to in re.findall(r"^\s+(\w+)\s+->\s+(\w+)\s", stages.__doc__, re.MULTILINE)}
    assert all(to in MOVES[current] for current, to in described)
    assert {(current, to) for current, allowed in MOVES.items() for to in allowed - ASKING} <= described


def test_the_steps_and_the_readme_name_the_stages_of_the_table_in_its_order():
    assert STAGES == tuple(Stage)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("| stage | what you see |", 1)[1].split("\n\n", 1)[0]
    assert re.findall(r"^\| (\w+) \|", table, re.MULTILINE) == list(Stage)
