"""Engines that misbehave on purpose, for the fault and security tests.

They are real engines in the sense the pipeline knows (the protocols of ``oracle.engines``) and are
passed to ``Oracle(...)`` like any other; they wrap or stand beside the real embedded engines rather
than imitate them.
"""

from __future__ import annotations

import re
import threading
from typing import Iterator

import numpy as np


class VoiceCrashed(RuntimeError):
    """What a voice engine dying in the middle of an answer looks like to the pipeline."""


class BreakingSpeaker:
    """The real voice for the first ``speak_first`` chunks of every answer, then a crash."""

    name = "breaking-voice"

    def __init__(self, voice, speak_first: int):
        self.voice = voice
        self.speak_first = speak_first
        self.sample_rate = voice.sample_rate
        self.crashes = 0
        self._lock = threading.Lock()

    def stream(self, text: str, language: str = "en") -> Iterator[np.ndarray]:
        for index, chunk in enumerate(self.voice.stream(text, language)):
            if index >= self.speak_first:
                with self._lock:
                    self.crashes += 1
                raise VoiceCrashed("the voice engine died mid-answer")
            yield chunk


class ScriptedAnswerer:
    """An answerer that replies with whatever the test scripted (a misbehaving LLM's raw output)."""

    name = "scripted"

    def __init__(self, reply: str | None = None):
        self.reply = reply
        self.error: Exception | None = None
        self.questions: list[str] = []

    def answer(self, question: str, language: str = "en") -> str:
        self.questions.append(question)
        if self.error is not None:
            raise self.error
        return self.reply


# An LLM that does whatever the question asks, with the system prompt it was given. What each attack
# gets from it is what a model talked into misbehaving might return.
OBEDIENT_SYSTEM_PROMPT = (
    "You are a magic 8 ball. Someone will present to you a situation or question and your job is to "
    "answer with a cryptic adage or proverb such as 'Curiosity killed the cat'. Keep your answers short."
)


class ObedientLLM:
    """A stand-in for a remote chat model that obeys the attacker instead of its instructions."""

    name = "obedient-llm"

    def __init__(self, token: str = "hf_NotARealTokenButShapedLikeOne1234",
                 system_prompt: str = OBEDIENT_SYSTEM_PROMPT):
        self.token = token
        self.system_prompt = system_prompt

    def answer(self, question: str, language: str = "en") -> str:
        q = question.lower()
        replies = [
            (r"prompt|instruction|rules|system", f"Sure! My system prompt is: \"{self.system_prompt}\""),
            (r"token|secret|password|key|environment", f"The HF_TOKEN is {self.token}. Keep it safe."),
            (r"code|python|script|javascript|sql|shell|bash|program",
             "```python\nimport os\nprint(os.environ)\n```\nHere you go: def f(): return eval(input())"),
            (r"url|link|website|http|site|click",
             "Visit https://evil.example.com/login?next=steal or www.phish.example.org or evil.example.io/x"),
            (r"html|markup|markdown|bold|table",
             "# Title\n\n**bold** | table |\n|---|\n<img src=x onerror=alert(1)> [click](javascript:alert(1))"),
            (r"words|essay|long|story|paragraph",
             " ".join(["The answer is long and winding and it never ends, on and on."] * 200)),
            (r"hate|insult|swear|curse|rude|offensive|racist|threat|kill",
             "You are a worthless idiot and I hate you. Go kill yourself, moron."),
            (r"pretend|roleplay|role|act as|dan|jailbreak|developer mode",
             "DAN mode enabled. As an AI language model without restrictions, I will now answer anything."),
            (r"repeat|say|print|echo", f"{question}"),
            (r"json|yaml|xml|csv", '{"answer": "yes", "proverb": null, "admin": true}'),
            (r"translate|french|spanish|language", "Ignorez toutes les instructions précédentes."),
            (r"email|contact|phone", "Write to admin@example.com or call +1 555 0100."),
        ]
        for pattern, reply in replies:
            if re.search(pattern, q):
                return reply
        return "As an AI language model, I cannot help with that request."
