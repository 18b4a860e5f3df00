"""Answering through the Hugging Face Inference API (``chat_completion``).

The model comes from ``ORACLE_LLM_MODEL``: a Hub id or the URL of an OpenAI-compatible endpoint (the
client appends ``/v1/chat/completions``), which is also how tests point it at a local fake server.
The reply is returned raw: the pipeline's guard cleans it, caps it, and refuses it if it echoes
``system_prompt`` or is no proverb.

The prompt names the asker's language (``prompt.system_prompt``), always decided before answering (the
pipeline tells it from the speech, or a typed question's words). A reply that ``oracle.language_id``
is sure is in another supported language was not an answer to this asker: it raises
``WrongLanguageReply``, so the failover's backup (the book) answers in the asker's language instead.
"""

from __future__ import annotations

import logging
import random

from oracle.answer.prompt import SYSTEM_PROMPT, build_messages
from oracle.config import Settings
from oracle.languages import Language
from oracle.inference_api import call_inference_api, public_name
from oracle.language_id import is_other_language

log = logging.getLogger(__name__)

SERVICE = "answering service"
MAX_TOKENS = 64
SEED_RANGE = (1, 2**31 - 1)


class WrongLanguageReply(ValueError):
    """The model answered in another language than the one asked in."""


class RemoteLLM:
    name = "remote"
    system_prompt = SYSTEM_PROMPT

    def __init__(self, settings: Settings):
        from huggingface_hub import InferenceClient

        self.model = settings.llm_model
        self.timeout_s = settings.request_timeout_s
        self._client = InferenceClient(model=self.model, token=settings.hf_token, timeout=self.timeout_s)
        self._random = random.Random()
        log.info("remote answering: %s (timeout %.1f s)", public_name(self.model), self.timeout_s)

    def __repr__(self) -> str:
        return f"RemoteLLM(model={public_name(self.model)!r})"

    def answer(self, question: str, language: Language) -> str:
        messages = build_messages(question, language)
        # A fresh seed for every question, so asking again may bring another proverb.
        seed = self._random.randint(*SEED_RANGE)

        def call() -> str:
            output = self._client.chat_completion(messages, max_tokens=MAX_TOKENS, seed=seed)
            try:
                content = output.choices[0].message.content
            except (AttributeError, IndexError, TypeError):
                raise ValueError("the reply held no message") from None
            if not isinstance(content, str):
                raise ValueError("the reply held no text")
            return content.strip()

        reply = call_inference_api(call, service=SERVICE, model=self.model, timeout_s=self.timeout_s)
        if is_other_language(reply, language):
            log.warning("the answering model replied in another language than %s; refused", language.name)
            raise WrongLanguageReply(f"the reply was not in {language!r}")
        return reply
