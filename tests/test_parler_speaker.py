"""The ``parler`` speaker, built through the registry from ``ORACLE_PARLER_MODEL=<tiny dir>``."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest
import torch

from tests.parler_fixtures import single_torch_thread, tiny_parler_dir  # noqa: F401  (pytest fixtures)

from oracle.config import Settings
from oracle.engines import Speaker, build
from oracle.errors import EngineUnavailable
from streamer import StreamTimeout
from oracle.languages import ENGLISH

pytestmark = pytest.mark.usefixtures("single_torch_thread")
TEXT = "A watched pot never boils, seeker."


@pytest.fixture(scope="module")
def speaker(tiny_parler_dir):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ORACLE_PARLER_MODEL", str(tiny_parler_dir))
        settings = Settings.from_env()
    return build("tts", "parler", settings)


def _generate_threads():
    return [t for t in threading.enumerate() if t.name == "parler-generate" and t.is_alive()]


def test_speaker_streams_several_int16_chunks(speaker):
    assert isinstance(speaker, Speaker)
    assert speaker.name == "parler"
    assert speaker.sample_rate == 16_000
    chunks = list(speaker.stream(TEXT, ENGLISH))
    assert len(chunks) >= 3
    assert all(c.dtype == np.int16 and c.ndim == 1 and c.size > 0 for c in chunks)
    assert chunks[0].size < max(c.size for c in chunks)  # a short first chunk, then larger ones
    assert 0.3 < chunks[0].size / speaker.sample_rate < 0.5  # what 0.5 s of steps make, less delay and look-ahead
    assert not _generate_threads()


def test_speaker_audio_matches_parlers_own_decode(speaker):
    """Same seed: the speaker's chunks join into what the model's own generate() returns in one piece; exact
    after the first seam, close before it (the first chunk is decoded with a short look-ahead)."""
    torch.manual_seed(11)
    expected = speaker.model.generate(**speaker._generate_kwargs(TEXT, ENGLISH))[0].numpy()
    torch.manual_seed(11)
    chunks = list(speaker.stream(TEXT, ENGLISH))
    audio = np.concatenate(chunks).astype(np.float32) / 32767
    assert audio.shape == expected.shape
    edge = 5 * speaker.sample_rate // 1000  # the 5 ms fade-in and fade-out of the whole answer
    seam = chunks[0].size + 10 * speaker.sample_rate // 1000  # the first chunk and its crossfaded tail
    assert np.abs(audio[seam:-edge] - expected[seam:-edge]).max() <= 2 / 32767
    first = slice(edge, seam)
    error = np.sqrt(np.mean((audio[first] - expected[first]) ** 2)) / np.sqrt(np.mean(expected[first] ** 2))
    assert error < 0.05


@pytest.fixture(scope="module")
def fast_speaker(tiny_parler_dir):
    """The fast path (static cache) forced on the CPU, where its step runs eagerly instead of as a graph."""
    from oracle.speech.parler import ParlerSpeaker

    return ParlerSpeaker(Settings(parler_model=str(tiny_parler_dir)), fast=True)


def test_the_path_is_chosen_with_one_log_line(tiny_parler_dir, caplog):
    from oracle.speech.parler import ParlerSpeaker

    settings = Settings(parler_model=str(tiny_parler_dir))
    for fast, expected in ((None, "Parler-TTS path: eager generate() (no CUDA)"), (True, "Parler-TTS path: fast")):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="oracle.speech.parler"):
            chosen = ParlerSpeaker(settings, fast=fast)
        lines = [r.getMessage() for r in caplog.records if "Parler-TTS path" in r.getMessage()]
        assert len(lines) == 1 and lines[0].startswith(expected)
        assert bool(chosen.fast) == bool(fast)


def test_fast_path_speaks_the_same_audio_as_the_eager_path(speaker, fast_speaker):
    """Same seed, same codes, so the same chunks: the static cache changes the speed, not the voice."""
    runs = []
    for which in (speaker, fast_speaker):
        torch.manual_seed(23)
        runs.append(list(which.stream(TEXT, ENGLISH)))
    eager, fast = runs
    assert [c.size for c in fast] == [c.size for c in eager]
    assert all(np.array_equal(a, b) for a, b in zip(fast, eager))
    assert fast_speaker.fast[0].steps > 0  # it did run through the fast path


def test_fast_path_warm_up_and_cancel(fast_speaker):
    fast_speaker.warm_up()
    stream = fast_speaker.stream(TEXT, ENGLISH)
    assert next(stream).size > 0
    stream.close()
    assert not _generate_threads()
    assert list(fast_speaker.stream(TEXT, ENGLISH))  # the slot came back: the next answer streams too


def test_closing_the_iterator_stops_generation(speaker):
    stream = speaker.stream(TEXT, ENGLISH)
    assert next(stream).size > 0
    assert _generate_threads()
    started = time.monotonic()
    stream.close()
    assert not _generate_threads()
    assert time.monotonic() - started < 5


def test_a_stalled_generation_becomes_engine_unavailable(tiny_parler_dir):
    settings = Settings(parler_model=str(tiny_parler_dir))
    from oracle.speech.parler import ParlerSpeaker

    impatient = ParlerSpeaker(settings, chunk_timeout_s=0.001)  # no chunk can come that fast
    started = time.monotonic()
    with pytest.raises(EngineUnavailable) as raised:
        list(impatient.stream(TEXT, ENGLISH))
    assert time.monotonic() - started < 5
    assert isinstance(raised.value.__cause__, StreamTimeout)
    deadline = time.monotonic() + 5
    while _generate_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _generate_threads()


def test_empty_text_says_nothing(speaker):
    assert list(speaker.stream("   ", ENGLISH)) == []


def test_warm_up(speaker):
    speaker.warm_up()
    assert not _generate_threads()


@pytest.mark.parametrize("where", ["missing-dir", "empty-dir"])
def test_bad_model_path_is_engine_unavailable(tmp_path, caplog, monkeypatch, where):
    path = tmp_path / "no-such-model" if where == "missing-dir" else tmp_path
    monkeypatch.setenv("ORACLE_PARLER_MODEL", str(path))
    with caplog.at_level(logging.ERROR, logger="oracle.speech.parler"):
        with pytest.raises(EngineUnavailable, match="could not be loaded"):
            build("tts", "parler", Settings.from_env())
    lines = [r for r in caplog.records if r.name == "oracle.speech.parler"]
    assert len(lines) == 1 and "Parler-TTS unavailable" in lines[0].getMessage()


def test_unreachable_or_unknown_hub_repo_fails_fast(caplog, monkeypatch):
    """Offline: one bounded probe, not huggingface_hub's minute of retries. Online: the repo does not exist."""
    monkeypatch.setenv("ORACLE_PARLER_MODEL", "oracle-tests/no-such-parler-model")
    monkeypatch.setenv("ORACLE_REQUEST_TIMEOUT", "3")
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="oracle.speech.parler"):
        with pytest.raises(EngineUnavailable, match="could not be loaded"):
            build("tts", "parler", Settings.from_env())
    assert time.monotonic() - started < 20
    assert len([r for r in caplog.records if r.name == "oracle.speech.parler"]) == 1


def test_a_fast_path_that_fails_to_warm_up_falls_back_to_eager(tiny_parler_dir, caplog):
    """A graph that cannot be captured (say, on a new GPU or driver) costs speed, not the voice."""
    from oracle.speech.parler import ParlerSpeaker

    fallible = ParlerSpeaker(Settings(parler_model=str(tiny_parler_dir)), fast=True)
    for generator in fallible.fast:
        generator._use_graphs = True  # on the CPU: capturing a CUDA graph raises, as a failed capture would
    with caplog.at_level(logging.ERROR, logger="oracle.speech.parler"):
        fallible.warm_up()
    assert fallible.fast_failed
    assert any("failed to warm up" in r.getMessage() for r in caplog.records)
    assert len(list(fallible.stream(TEXT, ENGLISH))) >= 2
    assert not _generate_threads()


def test_an_answer_that_finds_every_fast_slot_busy_is_spoken_eagerly(fast_speaker, caplog):
    taken = [fast_speaker._free_fast.get_nowait() for _ in fast_speaker.fast]  # two answers in flight
    steps_before = [generator.steps for generator in taken]
    try:
        with caplog.at_level(logging.INFO, logger="oracle.speech.parler"):
            assert len(list(fast_speaker.stream(TEXT, ENGLISH))) >= 2
    finally:
        for generator in taken:
            fast_speaker._free_fast.put(generator)
    assert [generator.steps for generator in taken] == steps_before  # not through a busy generator
    assert any("every fast-path slot is busy" in r.getMessage() for r in caplog.records)
