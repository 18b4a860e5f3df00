"""Is anyone speaking? Silero VAD, as shipped inside faster-whisper, checked before any ASR call.

Whisper invents words ("Thank you.") from silence and noise; asking the VAD first is cheaper and
keeps those inventions from ever reaching an answerer.
"""

from __future__ import annotations

import numpy as np

# Silero VAD hears 16 kHz only: the rate ``oracle.audio`` decodes every recording to (its SAMPLE_RATE).
SAMPLE_RATE = 16_000
# Less speech than this is a cough or a click, not a question.
MIN_SPEECH_SECONDS = 0.25
# A 32 ms window is speech from this score on, and, right after speech, down to NEGATIVE_THRESHOLD (Silero's
# own hysteresis). ``oracle.endpointing`` scores a streamed question with the same thresholds.
THRESHOLD = 0.5
NEGATIVE_THRESHOLD = 0.35


def speech_seconds(audio: np.ndarray) -> float:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(threshold=THRESHOLD, neg_threshold=NEGATIVE_THRESHOLD, min_speech_duration_ms=150,
                         min_silence_duration_ms=300, speech_pad_ms=0)
    spans = get_speech_timestamps(audio, options, sampling_rate=SAMPLE_RATE)
    return sum(span["end"] - span["start"] for span in spans) / SAMPLE_RATE


def has_speech(audio: np.ndarray) -> bool:
    return speech_seconds(audio) >= MIN_SPEECH_SECONDS
