"""Audio in and out.

``load_question`` turns whatever a browser, a script or a file upload hands us into the one format
the hearing engines take (mono float32 at 16 kHz, at most ``max_seconds`` long) and turns every way
that can fail into one friendly ``OracleError``. ``wav_bytes`` and ``aac_from_samples`` pack int16
speech for the way out.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import wave

import numpy as np
import soundfile
import soxr

from oracle.errors import BadAudio, NoAudio, NoSpeech, TooShort

SAMPLE_RATE = 16_000
FFMPEG_TIMEOUT_S = 20
# Decoded beyond the longest question, so that a cut is logged as a cut rather than silently made.
DECODE_MARGIN_S = 1.0
# Below this peak a recording is digital silence (a muted or unplugged microphone).
SILENCE_PEAK = 1e-3

log = logging.getLogger(__name__)


def load_question(path: str | os.PathLike | None, min_seconds: float = 0.4, max_seconds: float = 30.0) -> np.ndarray:
    """Decode, down-mix, resample and check a recorded question."""
    if path is None or str(path).strip() == "":
        raise NoAudio()
    path = os.fspath(path)
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        raise BadAudio()
    # Decode no more than the longest question (plus a little): a small, highly compressed file can
    # hold hours of audio, and decoding all of it would cost seconds of CPU and gigabytes of memory.
    audio = _decode(path, max_seconds + DECODE_MARGIN_S)
    if audio.size == 0:
        raise BadAudio()
    if not np.isfinite(audio).all():
        log.warning("recording held NaN or Inf samples; they were zeroed")
        audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    audio = np.clip(audio, -1.0, 1.0)
    seconds = audio.size / SAMPLE_RATE
    if seconds < min_seconds:
        raise TooShort()
    if seconds > max_seconds:
        log.info("recording of %.1f s cut to its first %.0f s", seconds, max_seconds)
        audio = audio[: int(max_seconds * SAMPLE_RATE)]
    if np.abs(audio).max() < SILENCE_PEAK:
        raise NoSpeech()
    return np.ascontiguousarray(audio, dtype=np.float32)


def _decode(path: str, max_seconds: float) -> np.ndarray:
    """libsndfile first (wav, flac, ogg, mp3: fast, in-process); ffmpeg for the rest (webm, m4a).

    Either way only the first ``max_seconds`` are decoded.
    """
    try:
        with soundfile.SoundFile(path) as sound:
            rate = sound.samplerate
            data = sound.read(frames=int(max_seconds * rate), dtype="float32", always_2d=True)
    except Exception:  # soundfile raises several types for unreadable input
        return _decode_with_ffmpeg(path, max_seconds)
    if data.shape[0] == 0:
        return np.zeros(0, dtype=np.float32)
    mono = data.mean(axis=1)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0), rate, SAMPLE_RATE)
    return mono.astype(np.float32)


def _decode_with_ffmpeg(path: str, max_seconds: float) -> np.ndarray:
    command = [
        "ffmpeg", "-nostdin", "-v", "error", "-threads", "0",
        "-t", f"{max_seconds:.3f}", "-i", path, "-f", "s16le", "-ac", "1", "-acodec", "pcm_s16le", "-ar", str(SAMPLE_RATE), "-",
    ]
    try:
        result = subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False)
    except FileNotFoundError:
        log.error("ffmpeg is not installed; only wav/flac/ogg/mp3 recordings can be read")
        raise BadAudio() from None
    except subprocess.TimeoutExpired:
        raise BadAudio("That recording took too long to read. Please record a shorter question.") from None
    if result.returncode != 0:
        raise BadAudio()
    return np.frombuffer(result.stdout, dtype=np.int16).astype(np.float32) / 32768.0


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] to int16 with one fixed scale (no per-chunk normalisation)."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono int16 samples as a complete WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(np.asarray(samples, dtype=np.int16).tobytes())
    return buffer.getvalue()


def aac_from_samples(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono int16 samples as AAC in an ADTS stream (what Gradio's HLS player plays). Encoded in-process
    with PyAV: no ffmpeg process per chunk."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="adts") as container:
        stream = container.add_stream("aac", rate=sample_rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.asarray(samples, dtype=np.int16).reshape(1, -1), format="s16",
                                           layout="mono")
        frame.sample_rate = sample_rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
