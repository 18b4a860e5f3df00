"""One quiet log for the server and the command line: the oracle's own lines (one per request, with its
timings) and warnings from everything else, without progress bars or per-call chatter."""

from __future__ import annotations

import logging
import warnings

# Libraries that log at INFO on every call (faster-whisper: each transcription; httpx: each request
# gradio makes to itself) or print their configuration on load.
CHATTY_LOGGERS = ("faster_whisper", "httpx", "sentence_transformers", "huggingface_hub", "urllib3", "piper")


def configure(level: int = logging.INFO, with_time: bool = True) -> None:
    layout = "%(asctime)s %(levelname)s %(name)s: %(message)s" if with_time else "%(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=layout)
    if level > logging.DEBUG:
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    # Gradio 6.17 still names a status constant that Starlette renamed: one warning per queued request.
    warnings.filterwarnings("ignore", message=".*HTTP_422_UNPROCESSABLE_ENTITY.*")
