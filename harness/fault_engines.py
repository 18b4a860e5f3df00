"""Engines that misbehave on purpose, or watch a real one, for the fault, pipeline and security tests.

They are real engines in the sense the pipeline knows (the protocols of ``oracle.engines``) and are
passed to ``Oracle(...)`` like any other; they wrap or stand beside the real embedded engines rather
than imitate them.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Iterator

import numpy as np


class _Wrapped:
    """Everything but the calls a subclass watches or breaks is the wrapped engine's own."""

    def __init__(self, engine):
        self.engine = engine
        self._lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self.engine, name)


class WatchedTranscriber(_Wrapped):
    """The real hearing engine, unchanged, that keeps each call's audio and how long the call took
    (``durations_ms``, measured around the engine's own call)."""

    def __init__(self, engine):
        super().__init__(engine)
        self.heard: list = []
        self.durations_ms: list[float] = []

    def transcribe(self, audio, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.engine.transcribe(audio, *args, **kwargs)
        finally:
            with self._lock:
                self.heard.append(audio)
                self.durations_ms.append((time.perf_counter() - started) * 1000.0)


class WatchedAnswerer(_Wrapped):
    """The real answerer, unchanged, that keeps each question and how long its answer took (``durations_ms``)."""

    def __init__(self, engine):
        super().__init__(engine)
        self.questions: list[str] = []
        self.durations_ms: list[float] = []

    def answer(self, question, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.engine.answer(question, *args, **kwargs)
        finally:
            with self._lock:
                self.questions.append(question)
                self.durations_ms.append((time.perf_counter() - started) * 1000.0)


class HearingCrashed(RuntimeError):
    """What faster-whisper failing inside a transcription (as CTranslate2 does out of memory) looks like."""


class MisbehavingTranscriber(_Wrapped):
    """The real hearing engine, which misbehaves on every call once it has warmed up (its warm-up is its own):

    - ``raising``: each call raises ``HearingCrashed``;
    - ``hanging``: each call blocks for ``hang_s``, far longer than any deadline, until ``release()``; then
      it hears for real (so that no thread outlives the test);
    - ``slow``: each call takes ``slow_s`` longer than usual, then hears for real.

    ``switch(kind)`` changes the fault from the next call on (and releases the calls left hanging).
    ``calls``: transcriptions asked of it.
    """

    KINDS = ("raising", "hanging", "slow")

    def __init__(self, engine, kind: str, hang_s: float = 300.0, slow_s: float = 2.5):
        super().__init__(engine)
        self.hang_s, self.slow_s = hang_s, slow_s
        self.calls = 0
        self._released = threading.Event()
        self.switch(kind)

    @property
    def name(self) -> str:
        return f"{self.kind}-whisper"

    def switch(self, kind: str) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown fault {kind!r}: one of {', '.join(self.KINDS)}")
        with self._lock:
            self.kind = kind
            hanging, self._released = self._released, threading.Event()
        hanging.set()

    def transcribe(self, audio, *args, **kwargs):
        with self._lock:
            self.calls += 1
            kind, released = self.kind, self._released
        if kind == "raising":
            raise HearingCrashed("std::bad_alloc (the hearing engine failing on purpose: harness.fault_engines)")
        if kind == "hanging":
            released.wait(self.hang_s)
        else:
            time.sleep(self.slow_s)
        return self.engine.transcribe(audio, *args, **kwargs)

    def release(self) -> None:
        """Let every hanging call go on (and every later one through at once)."""
        self._released.set()


class WatchedSpeaker(_Wrapped):
    """The real voice, unchanged, that counts its streams: open now (``open_streams``) and at most
    (``peak_streams``), and the chunks made so far (``chunks``). A stream is open from its first chunk's making
    until it ends or is closed, so a test can wait on the voice's work instead of on the clock."""

    def __init__(self, engine):
        super().__init__(engine)
        self.open_streams = 0
        self.peak_streams = 0
        self.chunks = 0

    def stream(self, text, language) -> Iterator[np.ndarray]:
        with self._lock:
            self.open_streams += 1
            self.peak_streams = max(self.peak_streams, self.open_streams)
        chunks = self.engine.stream(text, language)
        try:
            for chunk in chunks:
                with self._lock:
                    self.chunks += 1
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            with self._lock:
                self.open_streams -= 1

    def reset_peak(self) -> None:
        with self._lock:
            self.peak_streams = self.open_streams


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
