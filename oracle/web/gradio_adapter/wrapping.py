"""How every workaround that replaces one of Gradio's callables is installed: once."""

from __future__ import annotations

from typing import Any, Callable

_INSTALLED = "_oracle_wrappers"  # kept on each owner: (attribute, wrapper) pairs installed on it


def wrap_once(owner: Any, name: str, wrap: Callable[[Callable], Callable]) -> None:
    """Replace ``owner.<name>`` with ``wrap(owner.<name>)``, unless ``wrap`` has wrapped it already: installing
    a workaround again changes nothing. What was installed is remembered on ``owner`` itself (a ``gr.Blocks``,
    its queue, a component, a module), so wrappers of one attribute stack in any order, each once."""
    installed: set[tuple[str, str]] = vars(owner).setdefault(_INSTALLED, set())
    key = (name, wrap.__qualname__)
    if key in installed:
        return
    setattr(owner, name, wrap(getattr(owner, name)))
    installed.add(key)
