"""Audio in and out.

``load_question`` turns whatever a browser, a script or a file upload hands us into the one format
the hearing engines take (mono float32 at 16 kHz, at most ``max_seconds`` long) and turns every way
that can fail into one friendly ``OracleError``. ``wav_bytes`` and ``aac_from_samples`` pack int16
speech for the way out.

A recording is decoded from its own bytes and nothing else. Its container is told from its first
bytes (``container_of``), the demuxer is forced to that one (FFmpeg's, through PyAV, in-process and
reading the open file: seekable, so an M4A whose index sits at its end still plays), and every
attempt of the demuxer to open another file or URL is refused. A playlist (``#EXTM3U``), a concat
list or anything else that points at other media is no recording and is refused before any decoding.
"""

from __future__ import annotations

import io
import logging
import os
import time
import wave

import numpy as np
import soxr

from oracle.errors import BadAudio, NoAudio, NoSound, OracleError, SlowToRead, TooShort, UnusualFormat
from oracle.limits import (DECODE_TIME_LIMIT_S, MAX_CHANNELS, MAX_QUESTION_SECONDS, MAX_SAMPLE_RATE,
                           MIN_QUESTION_SECONDS, MIN_SAMPLE_RATE)
from oracle.vad import SAMPLE_RATE as VAD_SAMPLE_RATE, speech_seconds

# Every recording is decoded to 16 kHz mono: what Whisper and the VAD hear.
SAMPLE_RATE = VAD_SAMPLE_RATE
# Decoded beyond the longest question, so that a cut is logged as a cut rather than silently made.
DECODE_MARGIN_S = 1.0
# Below this peak a recording is digital silence (a muted or unplugged microphone).
SILENCE_PEAK = 1e-3
# A channel with this little of the loudest channel's energy (-30 dB) carries nothing worth hearing.
QUIET_CHANNEL = 1e-3
# Channels at least this correlated (either sign) with the loudest one hear the same source.
SAME_SOURCE = 0.5
# Opening reads no more than this to learn a recording's format, so that a header claiming an absurd
# rate is refused before its data is touched (FFmpeg would otherwise read up to 5 MB to "analyse" it).
HEADER_PROBE = {"probesize": "65536", "analyzeduration": "200000"}

log = logging.getLogger(__name__)


def load_question(path: str | os.PathLike | None, min_seconds: float = MIN_QUESTION_SECONDS,
                  max_seconds: float = MAX_QUESTION_SECONDS) -> np.ndarray:
    """Decode, resample, mix down and check a recorded question."""
    channels, rate = read_channels(path, max_seconds)
    if rate != SAMPLE_RATE:
        channels = soxr.resample(channels, rate, SAMPLE_RATE)
    return checked_question(mix_to_mono(channels), min_seconds, max_seconds)


def read_channels(path: str | os.PathLike | None, max_seconds: float = MAX_QUESTION_SECONDS) -> tuple[np.ndarray, int]:
    """A recording file (an upload, or one chunk of a streamed microphone) -> (samples, channels) float32 in
    [-1, 1] and its sample rate; at most ``max_seconds`` of it. Every way a file can fail is one
    ``OracleError``: no file (``NoAudio``), anything that is no recording we read (``BadAudio``)."""
    if path is None or str(path).strip() == "":
        raise NoAudio()
    path = os.fspath(path)
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        raise BadAudio()
    # Decode no more than the longest question (plus a little): a small, highly compressed file can
    # hold hours of audio, and decoding all of it would cost seconds of CPU and gigabytes of memory.
    channels, rate = _decode(path, max_seconds + DECODE_MARGIN_S)
    if channels.shape[1] == 0:  # no samples
        raise BadAudio()
    if not np.isfinite(channels).all():
        log.warning("recording held NaN or Inf samples; they were zeroed")
        channels = np.nan_to_num(channels, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(channels, -1.0, 1.0).T, rate  # (samples, channels), as soxr takes them


def checked_question(audio: np.ndarray, min_seconds: float = MIN_QUESTION_SECONDS,
                     max_seconds: float = MAX_QUESTION_SECONDS) -> np.ndarray:
    """Mono 16 kHz audio that may be a question: refused if empty, shorter than ``min_seconds`` or digital
    silence; cut to ``max_seconds``. Uploads and streamed recordings pass the same checks."""
    audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    if audio.size == 0:
        raise NoAudio()
    seconds = audio.size / SAMPLE_RATE
    if seconds < min_seconds:
        raise TooShort()
    if seconds > max_seconds:
        log.info("recording of %.1f s cut to its first %.0f s", seconds, max_seconds)
        audio = audio[: int(max_seconds * SAMPLE_RATE)]
    if np.abs(audio).max() < SILENCE_PEAK:
        raise NoSound()
    return np.ascontiguousarray(audio, dtype=np.float32)


def mix_to_mono(channels: np.ndarray) -> np.ndarray:
    """(samples, channels) at 16 kHz -> mono, so that no channel can hide the speech of another.

    Averaging is not that: a channel wired in reverse polarity cancels its twin to silence, and
    speech on one channel of six arrives at a sixth of its level. Silent channels are left out; if
    the rest hear one source, they are lined up in polarity and averaged; if they hear different
    sources, the channel with the most speech (by the VAD) is the question.
    """
    if channels.shape[1] == 1:
        return channels[:, 0]
    energy = np.mean(np.square(channels, dtype=np.float64), axis=0)
    loudest = int(np.argmax(energy))
    if energy[loudest] == 0.0:
        return channels[:, 0]
    live = [c for c in range(channels.shape[1]) if energy[c] >= QUIET_CHANNEL * energy[loudest]]
    reference = channels[:, loudest].astype(np.float64)
    correlation = {c: float(np.dot(channels[:, c], reference)) / (np.sqrt(energy[c] * energy[loudest]) * len(reference))
                   for c in live}
    if all(abs(r) >= SAME_SOURCE for r in correlation.values()):
        return np.mean([np.sign(correlation[c]) * channels[:, c] for c in live], axis=0)

    def speech_then_energy(c: int) -> tuple[float, float]:
        return speech_seconds(np.ascontiguousarray(channels[:, c], dtype=np.float32)), energy[c]

    return channels[:, max(live, key=speech_then_energy)]


def container_of(head: bytes) -> str | None:
    """The FFmpeg demuxer for a recording whose file starts with ``head`` (16 bytes are enough), or
    None when it is no recording we read: only containers that hold their own audio are named."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"  # WebM: what browsers record
    if head[4:8] == b"ftyp":
        return "mov"  # MP4, M4A, 3GP: what phones record
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"caff":
        return "caf"
    if head[:5] == b"#!AMR":
        return "amr"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame
        return "aac" if head[1] & 0x06 == 0 else "mp3"  # layer bits 00: AAC in ADTS
    return None


def _decode(path: str, max_seconds: float) -> tuple[np.ndarray, int]:
    """(channels, samples) float32 and its sample rate: at most the first ``max_seconds``."""
    with open(path, "rb") as file:
        container = container_of(file.read(16))
        if container is None:
            log.info("upload refused: not a recording in any container we read")
            raise BadAudio()
        declared = _wav_header_format(file) if container == "wav" else None
        if declared is not None:
            _checked_format(*declared)
        file.seek(0)
        try:
            return _demux(file, container, max_seconds)
        except OracleError:
            raise
        except Exception as error:  # FFmpeg has many ways to say "broken"
            log.info("unreadable %s recording: %s: %s", container, type(error).__name__, error)
            raise BadAudio() from None


def _wav_header_format(file) -> tuple[int, int] | None:
    """The (rate, channels) a WAV file's ``fmt `` chunk declares, read before FFmpeg touches the file:
    FFmpeg's WAV reader sizes its reads by the rate, so a header claiming 2**31 Hz costs a whole read
    of the file before the rate can be checked. None when there is no such chunk before the data."""
    file.seek(12)
    for _ in range(64):
        header = file.read(8)
        if len(header) < 8 or header[:4] == b"data":
            return None
        size = int.from_bytes(header[4:], "little")
        if header[:4] == b"fmt ":
            fmt = file.read(8)
            return (int.from_bytes(fmt[4:8], "little"), int.from_bytes(fmt[2:4], "little")) if len(fmt) == 8 else None
        file.seek(size + (size & 1), os.SEEK_CUR)
    return None


def _refuse_other_files(url: str, flags: int, options: dict):
    raise PermissionError(f"a recording may not open other files: {url[:80]!r}")


def _demux(file, container: str, max_seconds: float) -> tuple[np.ndarray, int]:
    import av

    deadline = time.monotonic() + DECODE_TIME_LIMIT_S
    with av.open(file, format=container, options={"format_whitelist": container, **HEADER_PROBE},
                 io_open=_refuse_other_files) as media:
        if not media.streams.audio:
            raise BadAudio()
        stream = media.streams.audio[0]
        rate, channel_count = _checked_format(stream.codec_context.sample_rate, stream.codec_context.channels)
        wanted = int(max_seconds * rate)
        chunks, frames = [], 0
        for packet in media.demux(stream):
            for frame in packet.decode():
                if (frame.sample_rate, frame.layout.nb_channels) != (rate, channel_count):
                    raise BadAudio()  # the format changed mid-stream: no recording does that
                chunks.append(_float_channels(frame))
                frames += frame.samples
            if frames >= wanted:
                break
            if time.monotonic() > deadline:
                raise SlowToRead()
    if not chunks:
        return np.zeros((channel_count, 0), dtype=np.float32), rate
    return np.concatenate(chunks, axis=1)[:, :wanted], rate


def _checked_format(rate: int, channels: int) -> tuple[int, int]:
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE or not 1 <= channels <= MAX_CHANNELS:
        log.info("upload refused: %d Hz, %d channels", rate, channels)
        raise UnusualFormat(rate, channels)
    return rate, channels


def _float_channels(frame) -> np.ndarray:
    """A decoded frame as (channels, samples) float32 in [-1, 1]."""
    data = frame.to_ndarray()
    if not frame.format.is_planar:
        data = data.reshape(-1, frame.layout.nb_channels).T
    if data.dtype == np.uint8:
        return (data.astype(np.float32) - 128.0) / 128.0
    if data.dtype.kind == "i":
        return data.astype(np.float32) / float(-np.iinfo(data.dtype).min)
    return data.astype(np.float32)


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
