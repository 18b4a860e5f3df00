"""The streamed-answer player: Gradio's Audio, with each chunk encoded to AAC in-process.

Stock ``gr.Audio(streaming=True)`` writes every ``(sample_rate, samples)`` chunk to a WAV file and turns
it into AAC through pydub, which starts two ffmpeg processes per chunk (0.1-0.5 s on a 2-core machine,
most of the time to first audio). This one (``gradio_adapter.voice.EncodedStreamingAudio``) keeps the same
front-end component and takes the same values, and encodes each chunk straight from its int16 samples.

A stream's first chunk starts at its first sound: the voices begin with 35-125 ms of silence (Piper, SVOX
Pico), and the AAC encoder adds 46 ms of its own (1024 samples of priming at 22.05 kHz, which an ADTS
stream cannot tell the player to skip), all of it heard as a wait after the player starts.
"""

from __future__ import annotations

import anyio
import numpy as np

from oracle.audio import aac_from_samples
from oracle.web.gradio_adapter.voice import EncodedStreamingAudio

# Quieter than this (-40 dBFS) before the first word is silence; a stream keeps this much of it before the
# first sound, so that a voice's soft onset is not cut.
SILENCE_INT16 = 328
KEPT_BEFORE_FIRST_SOUND_S = 0.01


class SpeechStream(EncodedStreamingAudio):
    async def encode_chunk(self, sample_rate: int, samples: np.ndarray, first_chunk: bool) -> tuple[bytes, float]:
        if first_chunk:
            samples = from_first_sound(samples, sample_rate)
        aac = await anyio.to_thread.run_sync(aac_from_samples, samples, sample_rate)
        return aac, len(samples) / sample_rate


def from_first_sound(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Int16 ``samples`` from ``KEPT_BEFORE_FIRST_SOUND_S`` before their first sound (all of them if silent)."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SILENCE_INT16)
    if loud.size == 0:
        return samples
    return samples[max(0, int(loud[0]) - int(KEPT_BEFORE_FIRST_SOUND_S * sample_rate)):]
