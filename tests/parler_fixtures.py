"""Shared pytest fixtures for the Parler tests: one tiny model per session, loaded the real way.

Import them into a test module with ``from tests.parler_fixtures import tiny_parler_dir, tiny_parler``.
"""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("parler_tts", reason="parler-tts is not installed (see scripts/build_torchaudio_nocuda.py)")

import torch  # noqa: E402

from harness.parler_tiny import build_tiny_parler  # noqa: E402

TINY_SECONDS = 2.5


@pytest.fixture(scope="module")
def single_torch_thread():
    """One torch intra-op thread while a Parler test module runs, restored afterwards.

    Tiny models spend their time in per-op overhead; on a busy 2-core machine a second intra-op thread
    only adds contention (measured: generation 8x slower under load).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_parler_dir(tmp_path_factory):
    """A directory holding a tiny random Parler-TTS model and its tokenizer (``save_pretrained``)."""
    logging.getLogger("parler_tts.modeling_parler_tts").setLevel(logging.ERROR)
    return build_tiny_parler(tmp_path_factory.mktemp("tiny-parler"), seconds=TINY_SECONDS)


@pytest.fixture(scope="session")
def tiny_parler(tiny_parler_dir):
    """``(model, tokenizer)`` loaded from the tiny directory with ``from_pretrained``."""
    from parler_tts import ParlerTTSForConditionalGeneration
    from transformers import AutoTokenizer

    model = ParlerTTSForConditionalGeneration.from_pretrained(tiny_parler_dir).eval()
    return model, AutoTokenizer.from_pretrained(tiny_parler_dir)
