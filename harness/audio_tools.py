"""Making and measuring real audio for the tests: espeak-ng (or the app's own voice) speaks, ffmpeg
converts and decodes."""

from __future__ import annotations

import hashlib
import io
import subprocess
from pathlib import Path

import httpx
import numpy as np
import soundfile

from oracle.languages import ENGLISH

TIMEOUT_S = 30


class SpeechMaker:
    """Spoken questions as files, made once per test session."""

    def __init__(self, directory: Path):
        self.directory = directory

    def say(self, text: str, voice: str = "en-us", speed: int = 150) -> Path:
        key = hashlib.sha1(f"{text}|{voice}|{speed}".encode()).hexdigest()[:12]
        path = self.directory / f"{key}.wav"
        if not path.exists():
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text],
                           check=True, timeout=TIMEOUT_S)
        return path

    def speak_with(self, speaker, text: str) -> Path:
        """``text`` spoken by a voice engine (e.g. the app's Piper voice) as a WAV file."""
        key = hashlib.sha1(f"{text}|{speaker.name}".encode()).hexdigest()[:12]
        path = self.directory / f"{key}-{speaker.name}.wav"
        if not path.exists():
            samples = np.concatenate(list(speaker.stream(text, ENGLISH)))
            soundfile.write(path, samples, speaker.sample_rate, subtype="PCM_16")
        return path

    def convert(self, source: Path, suffix: str, *ffmpeg_args: str) -> Path:
        """``source`` re-encoded by ffmpeg, e.g. convert(p, ".wav", "-ar", "8000", "-ac", "2")."""
        target = self.directory / f"{source.stem}-{hashlib.sha1(' '.join(ffmpeg_args).encode()).hexdigest()[:8]}{suffix}"
        if not target.exists():
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), *ffmpeg_args, str(target)],
                           check=True, timeout=TIMEOUT_S)
        return target

    def write(self, name: str, samples: np.ndarray, rate: int, subtype: str | None = None) -> Path:
        path = self.directory / name
        soundfile.write(path, samples, rate, subtype=subtype)
        return path


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Any encoded audio (AAC, WAV, ...) -> mono float32 samples at 16 kHz, via ffmpeg."""
    result = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", "pipe:0", "-f", "f32le", "-ac", "1",
                             "-ar", "16000", "pipe:1"], input=data, capture_output=True, timeout=TIMEOUT_S, check=True)
    return np.frombuffer(result.stdout, dtype=np.float32), 16000


def wav_duration(data: bytes) -> float:
    info = soundfile.info(io.BytesIO(data))
    return info.frames / info.samplerate


def fetch_stream(playlist_url: str) -> list[bytes]:
    """Every segment of a finished Gradio HLS stream, in order."""
    playlist = httpx.get(playlist_url, timeout=TIMEOUT_S)
    playlist.raise_for_status()
    base = playlist_url.rsplit("/", 1)[0]
    names = [line for line in playlist.text.splitlines() if line and not line.startswith("#")]
    segments = []
    for name in names:
        response = httpx.get(f"{base}/{name}", timeout=TIMEOUT_S)
        response.raise_for_status()
        segments.append(response.content)
    return segments


def without_trailing_silence(samples: np.ndarray, level: int = 300) -> np.ndarray:
    """int16 ``samples`` up to their last sound louder than ``level`` (about -40 dBFS). Piper ends a clause with
    0.26-0.37 s of its own silence, drawn at random: a test's "breath" after it is measured from its last sound."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > level)
    return samples[:loud[-1] + 1] if loud.size else samples


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0


class StreamHung(Exception):
    """A stream or a job did not finish before its deadline."""


class FollowedStream:
    def __init__(self) -> None:
        self.segments: list[bytes] = []
        self.first_segment_at: float | None = None
        self.last_segment_at: float | None = None
        self.ended = False


def follow_stream(playlist_url: str, deadline: float, http: httpx.Client | None = None,
                  poll_s: float = 0.1) -> FollowedStream:
    """Fetch every segment of a Gradio HLS stream as it appears, the way a player does, until the
    playlist says it ended; ``deadline`` is a ``time.monotonic()`` value."""
    import time

    http = http or httpx.Client(timeout=TIMEOUT_S)
    base = playlist_url.rsplit("/", 1)[0]
    result = FollowedStream()
    while True:
        if time.monotonic() > deadline:
            raise StreamHung(f"stream still open at its deadline after {len(result.segments)} segments")
        playlist = http.get(playlist_url)
        playlist.raise_for_status()
        names = [line for line in playlist.text.splitlines() if line and not line.startswith("#")]
        for name in names[len(result.segments):]:
            segment = http.get(f"{base}/{name}")
            segment.raise_for_status()
            if not segment.content:
                raise ValueError(f"empty segment {name}")
            result.segments.append(segment.content)
            result.last_segment_at = time.perf_counter()
            if result.first_segment_at is None:
                result.first_segment_at = result.last_segment_at
        if "#EXT-X-ENDLIST" in playlist.text:
            result.ended = True
            return result
        time.sleep(poll_s)


def first_update(job, timeout_s: float):
    """The first streamed update of a gradio_client job, or None if the job ended without one."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        outputs = job.outputs()
        if outputs:
            return outputs[0]
        if job.done():
            job.result(timeout=1)  # raises the job's error, if it had one
            return None
        time.sleep(0.02)
    raise StreamHung(f"no stream update within {timeout_s} s")
