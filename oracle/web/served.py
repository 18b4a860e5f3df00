"""What the app keeps beside each page it serves (a ``gr.Blocks``), for the code that is handed only the page
(the queue's checks, the housekeeping): its ``OracleFlow``, whose recordings a draining server closes, and the
ids of the components that carry a request's language, in which its refusals are told. Kept here, not as
attributes set on Gradio's object."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gradio as gr

if TYPE_CHECKING:
    from oracle.web.flow import OracleFlow


@dataclass(frozen=True)
class Served:
    flow: OracleFlow | None = None
    language_inputs: frozenset[int] = frozenset()


_SERVED: weakref.WeakKeyDictionary[gr.Blocks, Served] = weakref.WeakKeyDictionary()


def remember(demo: gr.Blocks, served: Served) -> None:
    _SERVED[demo] = served


def served(demo: gr.Blocks) -> Served:
    """What was remembered for ``demo`` (nothing: no flow, no language inputs)."""
    return _SERVED.get(demo, Served())
