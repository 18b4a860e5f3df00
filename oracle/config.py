"""Settings read once from the environment (``ORACLE_*`` variables and ``HF_TOKEN``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from oracle import limits


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def _choice(name: str, default: str) -> str:
    return os.environ.get(name, "").strip().lower() or default


@dataclass(frozen=True)
class Settings:
    """Which engines to run and the limits they run under.

    Engine names: ``ORACLE_ASR`` (auto, local, remote), ``ORACLE_ANSWERER`` (auto, book, smollm,
    remote), ``ORACLE_TTS`` (auto, piper, parler). ``auto`` takes the Space path where it can work
    (HF_TOKEN: Inference API; a GPU: Parler) and otherwise the embedded engines, whose weights ship
    inside pip packages (see ``oracle.selection``).
    """

    asr: str = "auto"
    answerer: str = "auto"
    tts: str = "auto"
    asr_model: str = "openai/whisper-large-v3-turbo"
    llm_model: str = "Qwen/Qwen2.5-72B-Instruct"
    parler_model: str = "ylacombe/parler-tts-mini-jenny-30H"
    # The voice of the other languages on a GPU (oracle.speech.languages): a Hub repo id or a local directory.
    parler_multilingual_model: str = "parler-tts/parler-tts-mini-multilingual-v1.1"
    # repr=False keeps the token out of logs and tracebacks that print the settings.
    hf_token: str | None = field(default=None, repr=False)
    request_timeout_s: float = 15.0
    min_question_s: float = limits.MIN_QUESTION_SECONDS
    max_question_s: float = limits.MAX_QUESTION_SECONDS
    # Hands-free: this much silence after speech ends a question (a breath between phrases is ~0.3 s).
    end_of_speech_s: float = 0.7
    # While a question is streamed in: the silence after which the words so far are heard for good and
    # the answer is prepared (a guess, kept only if the final words are the same), and how often the
    # words so far are heard again while the person keeps talking.
    pause_s: float = 0.25
    partial_every_s: float = 1.5

    @classmethod
    def from_env(cls) -> "Settings":
        defaults = cls()
        return cls(
            asr=_choice("ORACLE_ASR", defaults.asr),
            answerer=_choice("ORACLE_ANSWERER", defaults.answerer),
            tts=_choice("ORACLE_TTS", defaults.tts),
            asr_model=os.environ.get("ORACLE_ASR_MODEL") or defaults.asr_model,
            llm_model=os.environ.get("ORACLE_LLM_MODEL") or defaults.llm_model,
            parler_model=os.environ.get("ORACLE_PARLER_MODEL") or defaults.parler_model,
            parler_multilingual_model=(os.environ.get("ORACLE_PARLER_MULTILINGUAL_MODEL")
                                       or defaults.parler_multilingual_model),
            hf_token=os.environ.get("HF_TOKEN") or None,
            request_timeout_s=_float("ORACLE_REQUEST_TIMEOUT", defaults.request_timeout_s),
            max_question_s=_float("ORACLE_MAX_QUESTION_SECONDS", defaults.max_question_s),
            end_of_speech_s=_float("ORACLE_END_OF_SPEECH_SECONDS", defaults.end_of_speech_s),
        )
