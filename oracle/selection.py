"""Which engines answer: the names in the settings, ``auto``, and the embedded backups.

``auto`` prefers the Space path where it can work (a token for the Inference API; a GPU for
Parler) and otherwise the embedded engines, saying why in one log line. Any engine that is not
embedded runs with the embedded one as its backup (see ``oracle.failover``); one that cannot even
load is replaced by its backup at start-up, also with one log line.
"""

from __future__ import annotations

import logging
import os

from oracle import engines
from oracle.config import Settings
from oracle.failover import FailoverAnswerer, FailoverSpeaker, FailoverTranscriber

EMBEDDED = {"asr": "local", "answerer": "book", "tts": "piper"}
FAILOVER = {"asr": FailoverTranscriber, "answerer": FailoverAnswerer, "tts": FailoverSpeaker}
ROLE = {"asr": "hearing", "answerer": "answering", "tts": "speaking"}

log = logging.getLogger(__name__)


def gpu_available() -> bool:
    """A CUDA device now, or ZeroGPU (which attaches one only inside @spaces.GPU calls)."""
    if os.environ.get("SPACES_ZERO_GPU"):
        return True
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def resolve_auto(kind: str, settings: Settings) -> str:
    """The engine ``auto`` stands for on this machine, logged with the reason."""
    if kind in ("asr", "answerer"):
        if settings.hf_token:
            choice, why = "remote", "HF_TOKEN is set, so the Inference API"
        else:
            choice, why = EMBEDDED[kind], "no HF_TOKEN, so the embedded engine"
    else:
        if gpu_available():
            choice, why = "parler", "a GPU is available, so Parler-TTS"
        else:
            choice, why = EMBEDDED[kind], "no GPU, so the embedded voice"
    log.info("%s: auto chose %r (%s)", ROLE[kind], choice, why)
    return choice


def choose(kind: str, name: str, settings: Settings):
    """The engine for ``kind``: the named one with its embedded backup, or the embedded one alone."""
    if name == "auto":
        name = resolve_auto(kind, settings)
    backup_name = EMBEDDED[kind]
    if name == backup_name:
        return engines.build(kind, name, settings)
    try:
        primary = engines.build(kind, name, settings)
    except ValueError:
        raise  # an unknown engine name is a configuration mistake, not an outage
    except Exception as error:
        log.warning("%s engine %r is unavailable (%s: %s); the embedded %r answers instead",
                    ROLE[kind], name, type(error).__name__, error, backup_name)
        return engines.build(kind, backup_name, settings)
    return FAILOVER[kind](primary, engines.build(kind, backup_name, settings))
