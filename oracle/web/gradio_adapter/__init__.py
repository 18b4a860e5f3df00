"""The only code in the app that reaches past Gradio's public API: private attributes, internal helpers,
route take-overs, patched methods, and the shapes of values Gradio passes between its own layers.

Everything here was written against Gradio 6.17.3 (pinned in requirements.txt). Each workaround names the
Gradio behaviour it corrects; ``tests/test_gradio_adapter.py`` (and the test files it names) fails without
it. Every patch is installed at most once on a given ``gr.Blocks`` (or process), by ``wrapping.wrap_once``:
installing it again changes nothing. On any other Gradio, ``check_gradio_version()`` logs one warning at
start-up: read this package against the new Gradio before raising the pin.

- ``page``: the page's look and the browser's wire format (theme, ``launch()`` arguments, example events,
  updates sent from the browser, the DOM of Gradio's recorder that ``oracle/web/page.js`` depends on).
- ``frontend_locale``: Gradio's own words in languages its frontend does not translate.
- ``voice``: the streamed voice (a template ``gr.Audio`` that encodes its own segments; its value left whole;
  its stream ended as soon as the voice has said all).
- ``playlist``: the voice's HLS playlist, served as a Low-Latency HLS blocking reload.
- ``microphone``: microphone streams (every chunk taken in order; Stop; silent streams ended).
- ``routes``: the HTTP routes the front door takes over from Gradio (``oracle.web.middleware``).
- ``requests``: what the queue accepts (checks before joining, unreadable inputs, no URLs as audio, an error
  that always says something).
- ``generators``: generators Gradio abandons or whose failure it does not clean up.
- ``draining``: ending waiting and running requests when the server closes.
- ``memory``: what Gradio keeps for every request, visit and file, and the sweeps that let it go.
- ``wrapping``: how a workaround that replaces one of Gradio's callables is installed, once.
"""

from __future__ import annotations

import logging

import gradio as gr

TESTED_GRADIO_VERSION = "6.17.3"

log = logging.getLogger(__name__)


def check_gradio_version() -> bool:
    """True on the Gradio this package was written for; otherwise one warning in the log."""
    if gr.__version__ == TESTED_GRADIO_VERSION:
        return True
    log.warning("Gradio %s is installed; oracle.web.gradio_adapter was written for %s: run "
                "tests/test_gradio_adapter.py before trusting this server", gr.__version__, TESTED_GRADIO_VERSION)
    return False
