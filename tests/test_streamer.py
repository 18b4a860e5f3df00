"""streamer.ParlerStreamer on a tiny random Parler-TTS model: real generate(), real codec, no mocks."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from tests.parler_fixtures import single_torch_thread, tiny_parler, tiny_parler_dir  # noqa: F401  (pytest fixtures)
from harness.parler_tiny import CODEBOOK_SIZE, NUM_CODEBOOKS

from streamer import ParlerStreamer, StreamError, StreamTimeout

pytestmark = pytest.mark.usefixtures("single_torch_thread")
ONE_LSB = 1 / 32767


def _inputs(tokenizer, text="Hello there, seeker of truth."):
    description = tokenizer("A calm voice.", return_tensors="pt")
    prompt = tokenizer(text, return_tensors="pt")
    return dict(
        input_ids=description.input_ids,
        attention_mask=description.attention_mask,
        prompt_input_ids=prompt.input_ids,
        prompt_attention_mask=prompt.attention_mask,
    )


def _frames(n):
    """generate() kwargs for exactly ``n`` valid frames: no special token is ever sampled."""
    new = n + NUM_CODEBOOKS - 1  # the start column plus n frames plus the codebook delay
    return dict(max_new_tokens=new, min_new_tokens=new, suppress_tokens=[CODEBOOK_SIZE, CODEBOOK_SIZE + 1])


def _float(chunks):
    return np.concatenate(chunks).astype(np.float32) / 32767


class _StepHook(LogitsProcessor):
    """Runs ``action`` once, at generation step ``step`` (a real generate() hook, as a fault would strike)."""

    def __init__(self, step, action):
        self.step, self.action, self.calls = step, action, 0

    def __call__(self, input_ids, scores):
        self.calls += 1
        if self.calls == self.step:
            self.action()
        return scores


def test_chunks_equal_parlers_own_one_shot_output(tiny_parler):
    """Same seed, same codes: the streamed chunks join into what generate() itself returns."""
    model, tokenizer = tiny_parler
    inputs = _inputs(tokenizer)
    torch.manual_seed(7)
    expected = model.generate(**inputs)[0].numpy()  # parler's own one-shot decode of all codes
    torch.manual_seed(7)
    streamer = ParlerStreamer(model, first_chunk_s=0.3, chunk_s=0.6, edge_fade_ms=0, first_lookahead=None)
    chunks = list(streamer.stream(**inputs))
    assert len(chunks) >= 3
    assert all(c.dtype == np.int16 and c.ndim == 1 and c.size > 0 for c in chunks)
    audio = _float(chunks)
    assert audio.shape == expected.shape
    assert np.abs(audio - expected).max() <= 2 * ONE_LSB  # int16 rounding, nothing else
    assert np.abs(streamer.decode(streamer.codes) - expected).max() < 1e-5


def test_each_chunk_decodes_a_bounded_window(tiny_parler):
    """Incremental: every decode covers at most left context + chunk + lookahead frames, however long."""
    model, tokenizer = tiny_parler
    streamer = ParlerStreamer(model, first_chunk_s=0.2, chunk_s=0.2, first_lookahead=None)
    chunks = list(streamer.stream(**_inputs(tokenizer), **_frames(240)))
    assert len(chunks) >= 10
    bound = streamer.left_context + streamer.chunk_frames + streamer.lookahead
    assert max(streamer.decoded_frames) <= bound
    assert sum(streamer.decoded_frames) < 2.5 * streamer.codes.shape[1]  # parler's streamer: ~ n^2 / 2
    audio = _float(chunks)
    one_shot = streamer.decode(streamer.codes)
    edge = streamer.edge_fade
    assert audio.shape == one_shot.shape
    assert np.abs(audio[edge:-edge] - one_shot[edge:-edge]).max() <= 2 * ONE_LSB


def test_first_chunk_after_as_few_steps_as_parlers_streamer_then_chunks_grow(tiny_parler):
    """The first chunk leaves after first_chunk_s worth of steps (parler's play_steps), codebook delay and
    look-ahead included; each later chunk is at most as long as all the audio before it, up to chunk_s."""
    model, tokenizer = tiny_parler
    streamer = ParlerStreamer(model, first_chunk_s=0.5, chunk_s=1.0)
    sizes = [c.size for c in streamer.stream(**_inputs(tokenizer), **_frames(400))]
    hop, rate = streamer.hop_length, streamer.sampling_rate
    assert streamer.steps_before_first_chunk <= round(0.5 * streamer.frame_rate) - 1  # parler: play_steps - 1
    assert sizes[0] == streamer.first_chunk_frames * hop - streamer.crossfade
    assert 0.3 < sizes[0] / rate < 0.5
    for i in range(1, len(sizes) - 1):
        assert sizes[i] <= sum(sizes[:i]) + 2 * streamer.crossfade
        assert sizes[i] <= streamer.chunk_frames * hop + streamer.crossfade
    assert max(sizes) > sizes[0]
    assert sum(sizes) == 400 * hop


def test_first_seam_is_close_to_the_one_shot_decode(tiny_parler):
    """With the short first look-ahead, only the audio just before the first seam differs from a one-shot
    decode, by a small fraction of the signal; everything after it is exact."""
    model, tokenizer = tiny_parler
    torch.manual_seed(4)
    streamer = ParlerStreamer(model, first_chunk_s=0.5, chunk_s=1.0, edge_fade_ms=0)
    chunks = list(streamer.stream(**_inputs(tokenizer), **_frames(300)))
    audio, one_shot = _float(chunks), streamer.decode(streamer.codes)
    assert audio.shape == one_shot.shape
    seam = chunks[0].size + streamer.crossfade  # where the first chunk's held-back tail ends
    error = np.abs(audio - one_shot)
    assert error[seam:].max() <= 2 * ONE_LSB  # later chunks: exact context
    first = slice(0, seam)
    assert error[first].max() > 2 * ONE_LSB  # the short look-ahead does change something...
    relative = np.sqrt(np.mean(error[first] ** 2)) / np.sqrt(np.mean(one_shot[first] ** 2))
    assert relative < 0.05  # ...but little: under 5 % RMS over the first chunk


def test_one_chunk_answer(tiny_parler):
    """An answer shorter than the first chunk arrives whole, as one chunk, when generation ends."""
    model, tokenizer = tiny_parler
    streamer = ParlerStreamer(model, first_chunk_s=0.5, edge_fade_ms=0)
    chunks = list(streamer.stream(**_inputs(tokenizer), **_frames(20)))
    assert len(chunks) == 1
    assert chunks[0].size == 20 * streamer.hop_length
    assert np.abs(_float(chunks) - streamer.decode(streamer.codes)).max() <= 2 * ONE_LSB


def test_no_empty_final_chunk(tiny_parler):
    """When the last chunk ends exactly where the answer ends, end() has nothing left: no empty chunk."""
    model, tokenizer = tiny_parler
    streamer = ParlerStreamer(model, first_chunk_s=0.3, chunk_s=0.3, lookahead=0, crossfade_ms=0)
    frames = 2 * streamer.first_chunk_frames  # the second chunk is as long as the first
    chunks = list(streamer.stream(**_inputs(tokenizer), **_frames(frames)))
    assert [c.size for c in chunks] == [streamer.first_chunk_frames * streamer.hop_length] * 2


def test_loudness_is_one_fixed_scale(tiny_parler):
    """No per-chunk normalisation: gain 2 doubles every sample of every chunk (until int16 clips)."""
    model, tokenizer = tiny_parler
    inputs = _inputs(tokenizer)
    runs = []
    for gain in (1.0, 2.0):
        torch.manual_seed(3)
        streamer = ParlerStreamer(model, first_chunk_s=0.3, chunk_s=0.6, gain=gain)
        runs.append(_float(list(streamer.stream(**inputs, **_frames(120)))))
    quiet, loud = runs
    assert np.abs(quiet).max() < 0.45
    assert np.abs(loud - 2 * quiet).max() <= 3 * ONE_LSB


def test_closing_the_stream_stops_generation(tiny_parler):
    model, tokenizer = tiny_parler
    streamer = ParlerStreamer(model, first_chunk_s=0.1)
    stream = streamer.stream(**_inputs(tokenizer), **_frames(3000))  # 30 s if left alone
    first = next(stream)
    assert first.size > 0
    started = time.monotonic()
    stream.close()
    assert not streamer.thread.is_alive()
    assert time.monotonic() - started < 5
    assert streamer.cancelled
    assert streamer.codes.shape[1] < 500


def test_generation_error_reaches_the_consumer_at_once(tiny_parler):
    model, tokenizer = tiny_parler

    def fail():
        raise RuntimeError("CUDA error: device-side assert triggered")

    streamer = ParlerStreamer(model, first_chunk_s=0.1, timeout_s=20)
    processors = LogitsProcessorList([_StepHook(40, fail)])
    chunks = []
    started = time.monotonic()
    with pytest.raises(StreamError, match="device-side assert") as raised:
        for chunk in streamer.stream(**_inputs(tokenizer), **_frames(400), logits_processor=processors):
            chunks.append(chunk)
    assert time.monotonic() - started < 10  # not the 20 s timeout
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert len(chunks) >= 1  # what came before the fault was delivered
    streamer.thread.join(5)
    assert not streamer.thread.is_alive()


def test_stalled_generation_times_out_and_is_cancelled(tiny_parler):
    model, tokenizer = tiny_parler
    stall = threading.Event()
    streamer = ParlerStreamer(model, first_chunk_s=0.1, timeout_s=0.5, join_timeout_s=0.1)
    processors = LogitsProcessorList([_StepHook(40, lambda: stall.wait(3))])
    chunks = []
    started = time.monotonic()
    with pytest.raises(StreamTimeout):
        for chunk in streamer.stream(**_inputs(tokenizer), **_frames(2000), logits_processor=processors):
            chunks.append(chunk)
    waited = time.monotonic() - started
    assert waited < 2.5  # the timeout, not the 3 s stall or the 20 s answer
    assert len(chunks) >= 1
    assert streamer.cancelled
    stall.set()  # the stuck step returns; the cancel flag then stops generate()
    streamer.thread.join(5)
    assert not streamer.thread.is_alive()
    assert streamer.codes.shape[1] < 200


def test_a_consumer_that_stops_reading_cancels_generation(tiny_parler):
    """Nobody closes the stream, nobody reads: the full queue times out and generation stops."""
    model, tokenizer = tiny_parler
    streamer = ParlerStreamer(model, first_chunk_s=0.05, chunk_s=0.05, timeout_s=0.3, max_queued_chunks=2)
    stream = streamer.stream(**_inputs(tokenizer), **_frames(3000))
    next(stream)
    streamer.thread.join(10)
    assert not streamer.thread.is_alive()
    assert streamer.cancelled
    stream.close()


def test_default_context_covers_the_codec(tiny_parler):
    """Perturb one frame's codes and see how far the decoded audio moves: within the default contexts."""
    model, _ = tiny_parler
    streamer = ParlerStreamer(model)
    generator = torch.Generator().manual_seed(0)
    codes = torch.randint(0, CODEBOOK_SIZE, (NUM_CODEBOOKS, 120), generator=generator).numpy()
    base = streamer.decode(codes)
    hop, frame = streamer.hop_length, 60
    changed = codes.copy()
    changed[:, frame] = (changed[:, frame] + 1) % CODEBOOK_SIZE
    moved = np.flatnonzero(np.abs(streamer.decode(changed) - base) > 1e-4 * np.abs(base).max())
    reaches_back = frame - moved.min() / hop  # output this far before the frame depends on it: lookahead
    reaches_ahead = moved.max() / hop - (frame + 1)  # ... and this far after it: left context
    assert 0 < reaches_back <= streamer.lookahead
    assert 0 < reaches_ahead <= streamer.left_context


@pytest.mark.skipif(not os.environ.get("ORACLE_SLOW_TESTS"), reason="about a minute on a CPU; set ORACLE_SLOW_TESTS=1")
def test_jenny_sized_dac_streams_exactly():
    """Jenny's codec (DAC 44.1 kHz, 9 codebooks of 1024) with the default contexts: chunks == one-shot decode.

    Codes are fed through put() column by column in Parler's delay pattern, as generate() feeds them.
    """
    from parler_tts import DACConfig, ParlerTTSConfig, ParlerTTSDecoderConfig, ParlerTTSForConditionalGeneration
    from transformers import T5Config

    codebooks, size, frames = 9, 1024, 130
    config = ParlerTTSConfig.from_sub_models_config(
        T5Config(d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=4, vocab_size=64),
        DACConfig(num_codebooks=codebooks, codebook_size=size, latent_dim=1024),
        ParlerTTSDecoderConfig(
            vocab_size=size + 64, hidden_size=32, num_hidden_layers=1, ffn_dim=64, num_attention_heads=4,
            num_codebooks=codebooks, pad_token_id=size, eos_token_id=size, bos_token_id=size + 1,
        ),
        vocab_size=64,
    )
    torch.manual_seed(0)
    model = ParlerTTSForConditionalGeneration(config).eval()
    codes = torch.randint(0, size, (codebooks, frames))
    streamer = ParlerStreamer(model, first_chunk_s=0.3, chunk_s=0.5, edge_fade_ms=0, first_lookahead=None)
    streamer.put(torch.full((codebooks, 1), size + 1))  # the start column
    for column in range(1, frames + codebooks):  # column t holds frame t - 1 - k of codebook k
        values = [column - 1 - k for k in range(codebooks)]
        streamer.put(torch.tensor([
            size + 1 if f < 0 else (int(codes[k, f]) if f < frames else size) for k, f in enumerate(values)
        ]))
    streamer.end()
    chunks = list(streamer)
    assert len(chunks) >= 3
    assert np.array_equal(streamer.codes, codes.numpy())
    one_shot = streamer.decode(codes.numpy())
    assert np.abs(_float(chunks) - one_shot).max() <= 2 * ONE_LSB
    assert np.abs(one_shot).max() > 100 * ONE_LSB  # not silence
