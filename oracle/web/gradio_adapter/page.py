"""The page: its look, its example events, and the DOM of Gradio's recorder that ``oracle/web/page.js``
depends on (Gradio 6.17.3)."""

from __future__ import annotations

from typing import Any

import gradio as gr


def component_id(block: Any) -> int | None:
    """The id Gradio gives a component in its config and in every request naming it (None: not a component).
    Gradio has no public name for it."""
    return getattr(block, "_id", None)


# ---- the look: theme and CSS come with every launch() ----

def dark_only(theme: gr.themes.Base) -> gr.themes.Base:
    """The theme's dark values, used in light mode too. Gradio has no "always dark" switch, and a theme keeps
    each light value in an attribute named like its ``*_dark`` twin."""
    for name, value in list(vars(theme).items()):
        if name.endswith("_dark") and not name.startswith("_") and value is not None:
            setattr(theme, name[:-5], value)
    return theme


class BlocksWithLook(gr.Blocks):
    """``gr.Blocks`` that brings its own theme and CSS (``look``: ``launch()`` arguments) to every
    ``launch()``: Gradio 6 takes them there, and this app is launched by ``main()``, the tests and the Space."""

    def __init__(self, look: dict, **kwargs):
        super().__init__(**kwargs)
        self.look = look

    def launch(self, *args, **kwargs):
        for name, value in self.look.items():
            kwargs.setdefault(name, value)
        return super().launch(*args, **kwargs)


def examples_loaded(examples: gr.Examples):
    """The event an ``gr.Examples`` fires once a clicked example is in its input components, so that
    clicking an example can ask at once (Gradio has no public name for it)."""
    return examples.load_input_event


def after_drawn_js(elem_id: str, field: str) -> str:
    """JS statements for an async event handler: wait (at most ~10 s) until the component ``elem_id`` shows a
    value in its ``field`` (a ``GRADIO_DOM`` name). Gradio 6.17 runs a load event's browser-side handler before
    it has drawn the components with their first props, and then draws them with those props: an update sent
    earlier is lost."""
    selector = f"#{elem_id} {GRADIO_DOM[field]}"
    return (f"for (let frame = 0; frame < 600 && !document.querySelector({selector!r})?.value; frame++)"
            " await new Promise((done) => requestAnimationFrame(done));")


# ---- the streaming microphone: what oracle/web/page.js finds in Gradio's DOM ----

# Gradio 6.17's streaming microphone loads its WAV recorder lazily, after the page, as three modules fetched one
# after another (assets/module-<hash>.js); a Record press before the last has loaded fails inside Gradio
# ("c is not a constructor") and leaves the button stuck. The page's script holds such a press until then, by
# watching the page's resource timings for this many of these files.
STREAMING_RECORDER_MODULES = {"pattern": r"/assets/module-[^/]+\.js", "count": 3}
# Its buttons, by class (their words are translated into the browser's language): Record; Stop while
# recording, paused, or waiting for the server (each of these stops the recording when clicked).
STREAMING_RECORDER_BUTTONS = {"record": "button.record-button",
                              "stop": "button.stop-button, button.stop-button-paused, button.spinner-button"}
# Everything else the page's script finds in Gradio's DOM, inside the app's own components (their elem_ids).
GRADIO_DOM = {
    "recorder_modules": STREAMING_RECORDER_MODULES,
    "recorder_buttons": STREAMING_RECORDER_BUTTONS,
    "checkbox": 'input[type="checkbox"]',  # a gr.Checkbox's box
    "textbox": "textarea",  # a gr.Textbox's field (one line or more)
    "dropdown": "input",  # a gr.Dropdown's field
    "player": "audio",  # a gr.Audio's player, once it has a value
}
