"""The page's six visible stages and the moves between them, in one table (``MOVES``).

The page shows its stage twice: as a row of steps (``#status``) and on the ball (``#ball``; see ``look.py``).
From every stage a new question starts: listening (Record), hearing (a spoken example), consulting (a typed
question or example). Besides those:

    listening  -> hearing     Stop (pressed, or by the page at the end of speech)
    hearing    -> consulting  the question was heard; the answer surfaces
    consulting -> speaking    the voice starts
    consulting -> done        no voice this time: the written answer stands
    speaking   -> done        the answer has played to its end

Ready is the first stage only. A step that fails stays at its stage, its look saying so ("Reply hazy").
The browser makes the moves a person starts (Record, Stop, asking: wired in ``app.py``); the server makes
the others (``oracle.web.flow``). Each goes through ``ask`` or ``move``, which refuse a move not in the table.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Mapping


class Stage(StrEnum):
    READY = "ready"
    LISTENING = "listening"
    HEARING = "hearing"
    CONSULTING = "consulting"
    SPEAKING = "speaking"
    DONE = "done"


ASKING = frozenset({Stage.LISTENING, Stage.HEARING, Stage.CONSULTING})

MOVES: Mapping[Stage, frozenset[Stage]] = {
    Stage.READY: ASKING,
    Stage.LISTENING: ASKING,
    Stage.HEARING: ASKING,
    Stage.CONSULTING: ASKING | {Stage.SPEAKING, Stage.DONE},
    Stage.SPEAKING: ASKING | {Stage.DONE},
    Stage.DONE: ASKING,
}


class NotAMove(ValueError):
    """A move the page's table does not have: a bug in the code that moves the page."""


def ask(first: Stage) -> Stage:
    """``first``, once the table lets a new question start there (from whatever stage the page shows)."""
    if first not in ASKING:
        raise NotAMove(f"a question cannot start at {first}")
    return first


def move(current: Stage, to: Stage) -> Stage:
    """``to``, once the table allows the page to move there from ``current``."""
    if to not in MOVES[current]:
        raise NotAMove(f"the page cannot move from {current} to {to}")
    return to
