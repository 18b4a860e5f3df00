"""Whisper windows fitted to the question, for both embedded hearing models (tiny.en and base).

faster-whisper encodes every question as a 30-second window: a 2-second question pays for 28 seconds of
padding, in the encoder (most of the time) and in every decoder step's attention over it. CTranslate2
takes a shorter window. But a decoder shown too little padding after the speech loops ("Surururu…", the
same words again and again; whisper.cpp's ``audio_ctx`` has the same trap), so a fitted window is made
safe three ways:

- it is never shorter than a floor, and always holds a margin of padding after the audio: both measured
  per model on real human speech (``benchmarks/hearing_human.py``) and given by its caller;
- decoding stops after a number of tokens bounded by the audio's length (a question says at most a few
  tokens a second), so a loop is cut short;
- a result that looks like a loop (it ran into that bound, repeats itself, or compresses too well) is
  heard again with the full 30-second window, which is what faster-whisper would have done.

Audio longer than the 30-second window (never a question: ``oracle.limits.MAX_QUESTION_SECONDS``) goes
through faster-whisper's own window-by-window transcription.

A fitted window is padded as faster-whisper pads its 30-second one: the log-Mel features of the audio, then
zeros. Padding the audio with digital silence before the Mel (as Whisper's own code does) was measured too:
on real human speech it heard about as well (tiny.en 5.3 % against 6.3 % word error: three words), but
on the test suite's espeak-ng questions (harness/hearing.py) clearly worse (14 words wrong against 5).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from oracle.audio import SAMPLE_RATE

FRAMES_PER_SECOND = 100  # Whisper's log-Mel hop: 10 ms
FULL_WINDOW_S = 30.0
FULL_WINDOW_FRAMES = int(FULL_WINDOW_S * FRAMES_PER_SECOND)

# A question says at most a few tokens a second (Japanese, a token a kana or so, the most); a window that
# loops is cut there, instead of running to Whisper's 448 tokens (seconds of CPU).
TOKENS_PER_SECOND = 12
MIN_NEW_TOKENS = 24
MAX_NEW_TOKENS = 440  # Whisper's 448 less the prompt

# What looks like a loop: a run of a few tokens three times in a row ("no no no", "ru ru ru"), a longer one
# (a phrase, a whole sentence) twice, or text that gzip squeezes more than faster-whisper's own threshold for
# "too repetitive". A question hardly ever says a phrase twice over; a window with too little padding
# after the speech often makes Whisper say the question again.
SHORT_RUN_TOKENS = 3
SHORT_RUN_REPEATS = 3
LONGEST_RUN_TOKENS = 40
COMPRESSION_RATIO_LIMIT = 2.4

# faster-whisper's rule for a window with no speech: drop its words when the no-speech token is likely
# and the words unlikely.
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0


@dataclass(frozen=True)
class Window:
    """How long a window to encode for ``audio_s`` seconds of audio: at least ``floor_s``, at least the
    audio plus ``margin_s`` of padding, at most 30 s. ``Window()`` (no floor) is always the full 30 s."""

    floor_s: float | None = None
    margin_s: float = 0.0

    @property
    def fitted(self) -> bool:
        return self.floor_s is not None

    def frames(self, audio_s: float) -> int:
        if self.floor_s is None:
            return FULL_WINDOW_FRAMES
        seconds = max(self.floor_s, audio_s + self.margin_s)
        frames = math.ceil(round(seconds * FRAMES_PER_SECOND, 6))
        frames += frames % 2  # the encoder's first layers halve the frames: keep them even
        return max(2, min(FULL_WINDOW_FRAMES, frames))

    def __str__(self) -> str:
        return "30 s" if self.floor_s is None else f"max({self.floor_s:g} s, audio + {self.margin_s:g} s)"


FULL_WINDOW = Window()


def new_token_bound(audio_s: float) -> int:
    """The most tokens a question of ``audio_s`` seconds can say."""
    return min(MAX_NEW_TOKENS, MIN_NEW_TOKENS + int(TOKENS_PER_SECOND * audio_s))


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def repeats_itself(tokens: Sequence[int]) -> bool:
    """Whether a run of up to ``SHORT_RUN_TOKENS`` tokens comes ``SHORT_RUN_REPEATS`` times in a row, or a
    longer run (up to ``LONGEST_RUN_TOKENS``) twice in a row."""
    tokens = tuple(tokens)
    for size in range(1, min(LONGEST_RUN_TOKENS, len(tokens) // 2) + 1):
        times = SHORT_RUN_REPEATS if size <= SHORT_RUN_TOKENS else 2
        for start in range(len(tokens) - size * times + 1):
            gram = tokens[start:start + size]
            if all(tokens[start + k * size:start + (k + 1) * size] == gram for k in range(1, times)):
                return True
    return False


def loop_reason(text: str, tokens: Sequence[int], bound: int) -> str | None:
    """Why a decoded window looks like a loop, or None when it does not."""
    if len(tokens) >= bound:
        return f"ran into the bound of {bound} tokens"
    if repeats_itself(tokens):
        return "says something again"
    if compression_ratio(text) > COMPRESSION_RATIO_LIMIT:
        return f"compresses {compression_ratio(text):.1f}:1"
    return None


@dataclass(frozen=True)
class Encoded:
    """One window's encoding of a question: what a language is detected from and what is decoded."""

    audio_s: float
    frames: int
    output: object  # ctranslate2.StorageView


@dataclass(frozen=True)
class Heard:
    text: str
    frames: int  # the window finally heard (FULL_WINDOW_FRAMES after a fallback)
    fell_back: str | None  # why the fitted window was not trusted, or None


class WindowedWhisper:
    """One faster-whisper model hearing a question through a fitted window, greedy or with a beam, with a
    fallback to the full window when the fitted one loops. Thread-safe (as CTranslate2 is)."""

    def __init__(self, model, window: Window):
        from faster_whisper.transcribe import TranscriptionOptions

        self.model = model  # faster_whisper.WhisperModel
        self.window = window
        self._suppressed = None
        # faster-whisper's options for audio longer than one window: one temperature (no fallback), no
        # timestamps, no conditioning on earlier text (there is none, and it feeds hallucinations).
        self.long_options = TranscriptionOptions(
            beam_size=1, best_of=1, patience=1.0, length_penalty=1.0, repetition_penalty=1.0,
            no_repeat_ngram_size=0, log_prob_threshold=LOG_PROB_THRESHOLD, no_speech_threshold=NO_SPEECH_THRESHOLD,
            compression_ratio_threshold=COMPRESSION_RATIO_LIMIT, condition_on_previous_text=False,
            prompt_reset_on_temperature=0.5, temperatures=[0.0], initial_prompt=None, prefix=None,
            suppress_blank=True, suppress_tokens=None, without_timestamps=True, max_initial_timestamp=1.0,
            word_timestamps=False, prepend_punctuations="\"'“¿([{-",
            append_punctuations="\"'.。,，!！?？:：”)]}、",
            multilingual=False, max_new_tokens=None, clip_timestamps="0", hallucination_silence_threshold=None,
            hotwords=None,
        )

    def suppressed_tokens(self, tokenizer) -> list[int]:
        """The model's own list (the same for every language of one model), as faster-whisper builds it."""
        if self._suppressed is None:
            from faster_whisper.transcribe import get_suppressed_tokens

            self._suppressed = get_suppressed_tokens(tokenizer, [-1])
        return self._suppressed

    def encode(self, audio: np.ndarray, window: Window | None = None) -> Encoded:
        """``audio``'s features in ``window`` (this model's own by default), padded as faster-whisper pads
        its 30-second window, encoded."""
        from faster_whisper.audio import pad_or_trim

        audio = np.asarray(audio, dtype=np.float32)
        audio_s = audio.size / SAMPLE_RATE
        frames = (window or self.window).frames(audio_s)
        features = self.model.feature_extractor(audio)
        features = pad_or_trim(features[:, : min(frames, features.shape[-1] - 1)], frames)
        return Encoded(audio_s, frames, self.model.encode(features))

    def decode(self, encoded: Encoded, tokenizer, beam_size: int = 1) -> tuple[str, list[int]]:
        """The words in one encoded window: at most ``new_token_bound`` tokens; '' for no speech."""
        prompt = self.model.get_prompt(tokenizer, [], without_timestamps=True)
        bound = new_token_bound(encoded.audio_s)
        [result] = self.model.model.generate(
            encoded.output, [prompt], beam_size=beam_size, patience=1.0, length_penalty=1.0,
            max_length=len(prompt) + bound, return_scores=True, return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=self.suppressed_tokens(tokenizer),
        )
        tokens = result.sequences_ids[0]
        average_log_prob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > NO_SPEECH_THRESHOLD and average_log_prob < LOG_PROB_THRESHOLD:
            return "", []
        return tokenizer.decode(tokens).strip(), tokens

    def hear(self, audio: np.ndarray, tokenizer, beam_size: int = 1, encoded: Encoded | None = None) -> Heard:
        """What ``audio`` says, heard through the fitted window (``encoded`` already, when given in that very
        window), and again through the full window if that result looks like a loop."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.size / SAMPLE_RATE > FULL_WINDOW_S:
            return Heard(self._hear_long(audio, tokenizer, beam_size), FULL_WINDOW_FRAMES, None)
        if encoded is None or encoded.frames != self.window.frames(audio.size / SAMPLE_RATE):
            encoded = self.encode(audio)
        text, tokens = self.decode(encoded, tokenizer, beam_size)
        if encoded.frames == FULL_WINDOW_FRAMES:
            return Heard(text, encoded.frames, None)
        reason = loop_reason(text, tokens, new_token_bound(encoded.audio_s))
        if reason is None:
            return Heard(text, encoded.frames, None)
        full = self.encode(audio, FULL_WINDOW)
        return Heard(self.decode(full, tokenizer, beam_size)[0], full.frames, reason)

    def _hear_long(self, audio: np.ndarray, tokenizer, beam_size: int) -> str:
        options = replace(self.long_options, beam_size=beam_size, suppress_tokens=self.suppressed_tokens(tokenizer))
        features = self.model.feature_extractor(audio)
        segments = self.model.generate_segments(features, tokenizer, options, log_progress=False)
        return " ".join(segment.text.strip() for segment in segments).strip()
