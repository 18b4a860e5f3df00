"""Recordings made to hurt, and recordings whose channels hide the speech.

- A playlist or concat list uploaded as a recording (``#EXTM3U`` named ``.wav``) pointing at media
  elsewhere on the server: FFmpeg would follow it and the oracle would answer what that file says.
  It is refused, with the same message whether the file it names exists or not.
- A header claiming a rate or channel count no microphone makes is refused before any decoding.
- A channel wired in reverse polarity, or speech on one channel of many, still reaches the ears.

Each is checked on ``load_question`` and through the running app (``gradio_client`` and raw HTTP).
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from oracle.answer.guard import FOOLISH_ANSWER
from oracle.audio import SAMPLE_RATE, load_question
from oracle.errors import BadAudio
from oracle.limits import MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from oracle.vad import has_speech
from harness.gradio_api import join_by_hand

QUESTION = "Should I learn to play the piano?"
UNREADABLE = "Couldn't read that audio"
NO_MICROPHONE = "is not one a microphone records"


@pytest.fixture(scope="module")
def spoken(speech) -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(speech.say(QUESTION), dtype="float32")
    return samples / np.abs(samples).max() * 0.5, rate


def ffmpeg_hears(path: Path) -> float:
    """Seconds of audio the ffmpeg command line decodes from ``path`` when it may probe and follow it."""
    result = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar",
                             str(SAMPLE_RATE), "-"], capture_output=True, timeout=30, check=False)
    return len(result.stdout) / 2 / SAMPLE_RATE


# ---------------------------------------------------------------- files that point at other files

POINTERS = {
    "HLS playlist": lambda target: f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n{target}\n#EXT-X-ENDLIST\n",
    "ffconcat list": lambda target: f"ffconcat version 1.0\nfile '{target.name}'\n",
}


@pytest.fixture(scope="module")
def media_elsewhere(speech) -> Path:
    """A real MP3 of a question somewhere on the server's disk: what the attacker's playlist names."""
    return speech.convert(speech.say(QUESTION), ".mp3", "-ar", "44100")


def pointer(kind: str, target: Path, directory: Path) -> Path:
    path = directory / f"{kind.replace(' ', '-').replace(':', '')}.wav"
    path.write_text(POINTERS[kind](target))
    return path


@pytest.mark.parametrize("kind", list(POINTERS))
def test_a_file_pointing_at_other_media_is_refused(media_elsewhere, kind):
    path = pointer(kind, media_elsewhere, media_elsewhere.parent)
    assert ffmpeg_hears(path) > 1.0, "the attack is real: ffmpeg follows it to the mp3"
    with pytest.raises(BadAudio, match=UNREADABLE):
        load_question(path)


def test_even_a_demuxer_that_follows_references_may_open_no_other_file(media_elsewhere):
    """The second wall: were a pointer ever read by a demuxer that follows it, the decoder refuses the
    open (here FFmpeg's own HLS demuxer, forced, on the attacker's playlist)."""
    from oracle.audio import _demux

    path = pointer("HLS playlist", media_elsewhere, media_elsewhere.parent)
    with path.open("rb") as file, pytest.raises(PermissionError, match="may not open other files"):
        _demux(file, "hls", 5.0)


def test_a_playlist_upload_is_refused_through_the_app(client, media_elsewhere, tmp_path, oracle):
    path = pointer("HLS playlist", media_elsewhere, tmp_path)
    with pytest.raises(AppError, match=UNREADABLE):
        client.predict(handle_file(str(path)), api_name="/ask")
    book = {proverb.text for proverb in oracle.answerer.proverbs} | {FOOLISH_ANSWER}
    assert client.predict("Will tomorrow be kind?", api_name="/ask_text") in book  # the app is still healthy


def _upload_and_ask(server_url: str, path: Path) -> dict:
    """What a raw HTTP client gets: the upload route, then the queue with a hand-made payload."""
    with path.open("rb") as body:
        response = httpx.post(f"{server_url}gradio_api/upload", files={"files": (path.name, body)}, timeout=30)
    response.raise_for_status()
    return join_by_hand(server_url, "ask", [{"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}])


def test_a_playlist_over_raw_http_is_refused_and_tells_nothing_of_the_disk(server_url, media_elsewhere, tmp_path):
    replies = []
    for target in (media_elsewhere, tmp_path / "no-such-file.mp3"):
        message = _upload_and_ask(server_url, pointer("HLS playlist", target, tmp_path))
        assert message["success"] is False, message
        replies.append(message["output"]["error"])
    assert UNREADABLE in replies[0]
    assert replies[0] == replies[1], "the reply tells whether a path exists"


# ---------------------------------------------------------------- headers no microphone writes

def with_header(source: Path, target: Path, rate: int | None = None, channels: int | None = None) -> Path:
    """``source`` (a PCM WAV) with its fmt chunk's rate or channel count rewritten, data untouched."""
    data = bytearray(source.read_bytes())
    assert data[12:16] == b"fmt "
    if channels is not None:
        data[22:24] = struct.pack("<H", channels)
    if rate is not None:
        data[24:28] = struct.pack("<I", rate)
        data[28:32] = struct.pack("<I", rate * 2 & 0xFFFFFFFF)
    target.write_bytes(bytes(data))
    return target


@pytest.fixture(scope="module")
def five_mb_wav(spoken, tmp_path_factory) -> Path:
    """The question, repeated into 5 MB of 16 kHz WAV: as much as the attacker's CPU bill needs."""
    samples, rate = spoken
    path = tmp_path_factory.mktemp("headers") / "long.wav"
    soundfile.write(path, np.tile(samples, 160 * SAMPLE_RATE // samples.size), SAMPLE_RATE, subtype="PCM_16")
    return path


@pytest.mark.parametrize("rate, channels", [(2**31 - 1, None), (1_000_000_000, None), (1, None), (None, 0),
                                            (None, 65535)])
def test_a_header_claiming_an_absurd_format_is_refused(five_mb_wav, tmp_path, rate, channels):
    path = with_header(five_mb_wav, tmp_path / "crafted.wav", rate, channels)
    with pytest.raises(BadAudio, match=NO_MICROPHONE):
        load_question(path)


@pytest.mark.parametrize("rate, channels, accepted", [
    (MIN_SAMPLE_RATE, 1, True), (MAX_SAMPLE_RATE, 2, True), (16_000, MAX_CHANNELS, True),
    (MIN_SAMPLE_RATE // 2, 1, False), (MAX_SAMPLE_RATE * 2, 1, False), (16_000, MAX_CHANNELS + 1, False),
])
def test_real_recordings_at_the_edges_of_the_limits(spoken, tmp_path, rate, channels, accepted):
    samples, source_rate = spoken
    path = tmp_path / "edge.wav"
    resampled = np.interp(np.arange(int(samples.size * rate / source_rate)) * source_rate / rate,
                          np.arange(samples.size), samples).astype(np.float32)
    soundfile.write(path, np.repeat(resampled[:, None], channels, axis=1), rate, subtype="PCM_16")
    if accepted:
        assert has_speech(load_question(path))
    else:
        with pytest.raises(BadAudio, match=NO_MICROPHONE):
            load_question(path)


def test_an_absurd_header_is_refused_through_the_app(client, five_mb_wav, tmp_path):
    path = with_header(five_mb_wav, tmp_path / "question.wav", rate=2**31 - 1)
    with pytest.raises(AppError, match=NO_MICROPHONE):
        client.predict(handle_file(str(path)), api_name="/ask")


# ---------------------------------------------------------------- channels that hide the speech

def multichannel(spoken, tmp_path: Path, name: str, make) -> Path:
    samples, rate = spoken
    path = tmp_path / name
    soundfile.write(path, make(samples), rate, subtype="PCM_16")
    return path


def noise(samples: np.ndarray, seed: int, level: float = 0.1) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(samples.size)).astype(np.float32)


CHANNELS = {
    "stereo, one channel inverted": lambda s: np.stack([s, -s], axis=1),
    "speech on one channel of six, noise on the rest": lambda s: np.stack([s] + [noise(s, c) for c in range(5)], 1),
    "speech on the sixth of eight, the rest silent": lambda s: np.stack(
        [s if c == 5 else np.zeros_like(s) for c in range(8)], axis=1),
    "plain stereo": lambda s: np.stack([s, s], axis=1),
}


@pytest.mark.parametrize("case", list(CHANNELS))
def test_no_channel_can_hide_the_speech_of_another(spoken, speech, tmp_path, case):
    reference = load_question(speech.say(QUESTION))
    reference = reference / np.abs(reference).max() * 0.5
    audio = load_question(multichannel(spoken, tmp_path, "channels.wav", CHANNELS[case]))
    assert has_speech(audio)
    # The question itself, at its own level: not cancelled, not diluted, not buried in another channel.
    assert abs(audio.size - reference.size) < 0.05 * SAMPLE_RATE
    size = min(audio.size, reference.size)
    assert abs(np.corrcoef(audio[:size], reference[:size])[0, 1]) > 0.95  # polarity is inaudible
    assert np.abs(audio).max() == pytest.approx(0.5, rel=0.1)


def test_an_inverted_channel_is_heard_through_the_app(client, spoken, tmp_path):
    path = multichannel(spoken, tmp_path, "inverted.wav", CHANNELS["stereo, one channel inverted"])
    question, answer = client.predict(handle_file(str(path)), api_name="/ask")
    assert "piano" in question.lower(), question
    assert answer


def test_speech_on_one_channel_of_many_is_heard_over_raw_http(server_url, spoken, tmp_path):
    path = multichannel(spoken, tmp_path, "six.wav", CHANNELS["speech on one channel of six, noise on the rest"])
    message = _upload_and_ask(server_url, path)
    assert message["success"] is True, message
    question, answer = message["output"]["data"][:2]
    assert "piano" in question.lower(), question
    assert answer
