"""Gradio's own words (its buttons, its footer) and the ``gr.I18n`` labels in a browser language that Gradio
6.17.3's frontend does not translate itself: its frontend's translation module is found among its assets and
its locale setter called from the page."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import gradio as gr

log = logging.getLogger(__name__)


FRONTEND_ASSETS = Path(gr.__file__).parent / "templates" / "frontend" / "assets"


def _frontend_i18n_chunk() -> tuple[str, str] | None:
    """The frontend's translation module (its file name) and the name it exports its locale setter under
    (``function cu(e){se.set(e)}`` … ``export{…cu as Q…}`` in 6.17.3); None if it cannot be found."""
    for path in sorted(FRONTEND_ASSETS.glob("i18n-*.js")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if "custom_translations" not in text:
            continue
        setters = re.findall(r"function ([\w$]+)\((\w)\)\{([\w$]+)\.set\(\2\)\}", text)
        exported = [alias for name, _arg, _store in setters
                    for alias in re.findall(rf"[{{,]{re.escape(name)} as ([\w$]+)[,}}]", text)]
        if len(exported) == 1:
            return path.name, exported[0]
    return None


def frontend_locales() -> set[str]:
    """The languages Gradio's frontend translates its own words into (``./lang/<code>.json``). A browser in any
    other language gets English from Gradio: its own words, and the app's ``gr.I18n`` labels too."""
    found = _frontend_i18n_chunk()
    if found is None:
        return set()
    return set(re.findall(r"\./lang/([\w-]+)\.json", (FRONTEND_ASSETS / found[0]).read_text(encoding="utf-8")))


def frontend_locale_setter_js() -> str | None:
    """A JS expression: an async function of a locale code that switches Gradio's frontend to it (its own
    words, and the ``gr.I18n`` labels, from the translations ``launch(i18n=...)`` brought for that code). For
    a browser language Gradio does not know, which it shows in English. None when the setter is not found
    (on a Gradio other than 6.17.3): such a browser then sees English labels."""
    found = _frontend_i18n_chunk()
    if found is None:
        log.warning("Gradio's frontend locale setter was not found: browsers in a language Gradio does not "
                    "translate (Italian) will see the page's labels in English")
        return None
    chunk, setter = found
    return ("(async (locale) => { const index = document.querySelector('script[type=\"module\"][src*=\"assets/index-\"]');"
            f" if (index) (await import(new URL('./{chunk}', index.src).href))[{setter!r}](locale); }})")


def frontend_locale_head(locales: list[str]) -> str:
    """``launch(head=...)``: a script that switches Gradio's frontend to the browser's language when it is one
    of ``locales`` (languages the frontend does not translate itself, whose words ``launch(i18n=...)``
    brings), as early as it can: Gradio adds it to the page before it draws the components, and its audio
    recorder takes its words (Record, Stop) once, when drawn. Empty when the setter is not found."""
    setter = frontend_locale_setter_js()
    if setter is None or not locales:
        return ""
    return ('<script type="module">const code = (navigator.language || "").slice(0, 2).toLowerCase();'
            f" if ({json.dumps(locales)}.includes(code)) {setter}(code);</script>")


def flat_frontend_words(words: dict, prefix: str = "") -> dict[str, str]:
    """Gradio-shaped translations (``{"audio": {"record": …}}``) as the dotted keys ``gr.I18n`` takes."""
    flat = {}
    for key, value in words.items():
        if isinstance(value, dict):
            flat.update(flat_frontend_words(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
