"""oracle.speech.parler_fast on the CPU: the static-cache path draws the very codes parler's generate() draws.

On the CPU the decoder step runs eagerly (no CUDA graph), so these tests check everything the graph would
replay: the static cache, the delay pattern, the logits rules, sampling and the stopping rules.
"""

from __future__ import annotations

import pytest
import torch
from transformers import LogitsProcessorList
from transformers.generation.streamers import BaseStreamer

from tests.parler_fixtures import single_torch_thread, tiny_parler, tiny_parler_dir  # noqa: F401  (pytest fixtures)

from oracle.speech.parler_fast import FastPathUnsupported, StaticParlerGenerator, cache_bucket

pytestmark = pytest.mark.usefixtures("single_torch_thread")


class ColumnRecorder(BaseStreamer):
    """Keeps every column generate() hands a streamer, as lists of ints."""

    def __init__(self):
        self.columns: list[list[int]] = []
        self.ended = False

    def put(self, value):
        self.columns.extend(value.t().tolist() if value.dim() == 2 else [value.tolist()])

    def end(self):
        self.ended = True


def _inputs(tokenizer, text="Hello there, seeker of truth."):
    description = tokenizer("A calm voice.", return_tensors="pt")
    prompt = tokenizer(text, return_tensors="pt")
    return dict(input_ids=description.input_ids, attention_mask=description.attention_mask,
                prompt_input_ids=prompt.input_ids, prompt_attention_mask=prompt.attention_mask)


def _columns(generate, inputs, seed, **kwargs):
    recorder = ColumnRecorder()
    torch.manual_seed(seed)
    generate(**inputs, streamer=recorder, do_sample=True, **kwargs)
    assert recorder.ended
    return recorder.columns


@pytest.mark.parametrize("settings", [
    dict(),  # the saved config: min_new_tokens forbids EOS for the whole answer
    dict(min_new_tokens=5, max_new_tokens=300),  # EOS allowed: codebooks end one after another
    dict(temperature=0.7, top_k=20, top_p=0.9, max_new_tokens=120, suppress_tokens=[3, 5]),
], ids=["saved-config", "ends-by-eos", "warped"])
def test_same_codes_as_parlers_generate(tiny_parler, settings):
    model, tokenizer = tiny_parler
    inputs = _inputs(tokenizer)
    fast = StaticParlerGenerator(model)
    assert not fast.use_graphs  # CPU
    for seed in (1, 2):
        eager = _columns(model.generate, inputs, seed, **settings)
        static = _columns(fast.generate, inputs, seed, **settings)
        assert len(static) == len(eager) > 20
        assert static == eager


def test_an_answer_can_end_by_eos(tiny_parler):
    """The ends-by-eos case above really ends early, with every codebook ending on EOS in delay order."""
    model, tokenizer = tiny_parler
    eos = model.generation_config.eos_token_id
    fast = StaticParlerGenerator(model)
    lengths = []
    for seed in range(3):
        columns = _columns(fast.generate, _inputs(tokenizer), seed, min_new_tokens=5, max_new_tokens=600)
        lengths.append(len(columns))
        assert columns[-1] == [eos] * fast.codebooks
    assert min(lengths) < 601


def test_one_cache_serves_prompts_of_any_length_in_its_bucket(tiny_parler):
    model, tokenizer = tiny_parler
    fast = StaticParlerGenerator(model)
    for text in ("Yes.", "The river does not hurry, yet it reaches the sea before the proud mountain falls."):
        eager = _columns(model.generate, _inputs(tokenizer, text), 9, max_new_tokens=80)
        assert _columns(fast.generate, _inputs(tokenizer, text), 9, max_new_tokens=80) == eager
    assert len(fast._sessions) == 1


def test_warm_up_makes_the_sessions_answers_need(tiny_parler):
    model, tokenizer = tiny_parler
    fast = StaticParlerGenerator(model)
    inputs = _inputs(tokenizer)
    fast.warm_up(inputs["input_ids"], prompt_lengths=(16, 128), max_new_tokens=400)
    assert sorted(key[1] for key in fast._sessions) == [512, 1024]  # 16 + 401 and 128 + 401 positions
    _columns(fast.generate, inputs, 0, max_new_tokens=400)
    assert len(fast._sessions) == 2  # the answer found its session ready


def test_sampling_draws_what_multinomial_draws():
    """argmax(p / Exp(1)) consumes the generator exactly as torch.multinomial(p, 1) does, so seeds agree."""
    probs = torch.softmax(torch.randn(9, 1088), dim=-1)
    torch.manual_seed(0)
    expected = torch.multinomial(probs, 1).squeeze(1)
    torch.manual_seed(0)
    assert torch.equal(torch.argmax(probs / torch.empty_like(probs).exponential_(1), dim=-1), expected)


@pytest.mark.parametrize("settings", [
    dict(repetition_penalty=1.3), dict(guidance_scale=3.0), dict(do_sample=False), dict(num_beams=2),
    dict(logits_processor=LogitsProcessorList()),
])
def test_what_it_cannot_do_is_refused_before_any_column(tiny_parler, settings):
    model, tokenizer = tiny_parler
    recorder = ColumnRecorder()
    with pytest.raises(FastPathUnsupported):
        StaticParlerGenerator(model).generate(**_inputs(tokenizer), streamer=recorder, **settings)
    assert recorder.columns == [] and not recorder.ended


def test_cache_buckets():
    assert cache_bucket(10) == 512
    assert cache_bucket(512) == 512
    assert cache_bucket(513) == 1024
    assert cache_bucket(2600) == 4096


def test_the_step_reads_nothing_back_to_the_host(tiny_parler):
    """What a CUDA graph replays must not branch on tensor values on the host (no .item(), no bool(tensor), no
    sync). TorchDynamo proves it off-GPU: with fullgraph=True it refuses any such break. Logging is ignored
    (transformers warns about a deprecated cache method; a log call changes no tensor)."""
    import logging

    model, tokenizer = tiny_parler
    fast = StaticParlerGenerator(model)
    inputs = _inputs(tokenizer)
    with torch.inference_mode():
        plan = fast.plan(do_sample=True, temperature=0.8, top_k=20, top_p=0.9, suppress_tokens=[3], min_new_tokens=9)
        session = fast._session(plan, inputs["input_ids"].shape[1], 512)
        fast._prefill(session, plan, **inputs)
        ignored = {logging.Logger.warning_once, logging.Logger.warning}
        with torch._dynamo.config.patch(ignore_logging_functions=ignored):
            torch._dynamo.reset()
            step = torch.compile(lambda: fast._decode_one(session), fullgraph=True, backend="eager")
            before = session.position.clone()
            step()
        assert session.position.item() == before.item() + 1
        torch._dynamo.reset()


def test_an_error_mid_answer_reaches_the_streamer_s_consumer(tiny_parler):
    """A step that raises (a CUDA error, say) surfaces as StreamError, not as a quietly shorter answer."""
    from streamer import ParlerStreamer, StreamError

    model, tokenizer = tiny_parler
    fast = StaticParlerGenerator(model)
    decode_one = fast._decode_one
    calls = []

    def failing(session):
        calls.append(1)
        if len(calls) == 60:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        decode_one(session)

    fast._decode_one = failing
    streamer = ParlerStreamer(model, first_chunk_s=0.1, generate=fast.generate, timeout_s=20)
    chunks = []
    with pytest.raises(StreamError, match="illegal memory access"):
        for chunk in streamer.stream(**_inputs(tokenizer), do_sample=True, max_new_tokens=200):
            chunks.append(chunk)
    assert chunks  # what came before the fault was delivered
