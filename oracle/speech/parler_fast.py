"""Parler-TTS generation at GPU speed: a static KV cache, and the whole decoder step replayed as a CUDA graph.

Why: on a GPU, Parler's ``generate()`` is launch-bound. A Jenny-sized step is ~45 ms through ``generate()``
(hundreds of small kernels, each launched from Python, and host syncs every step; README, "The fast path
(CUDA)"), and real time needs 11.6 ms. Replayed as a CUDA graph, the same step is one launch;
``benchmarks/parler_gpu.py`` times both paths on a GPU.

How ``StaticParlerGenerator.generate()`` runs one answer:

- **Prefill, eager:** the model's own ``forward`` encodes the description and the prompt and runs the first
  column, writing keys and values into a ``StaticCache`` (self-attention, ``cache_len`` long) and a
  cross-attention ``StaticCache`` (the description's length), allocated once and reused.
- **Every later step, one fixed-shape function** on static buffers: the decoder on one column at
  ``cache_position``, then what ``generate()`` does to the logits (Parler's delay-pattern EOS rule,
  ``min_new_tokens``/``min_length``, suppressed ids, temperature, top-k, top-p), sampling, EOS bookkeeping and
  the next input column through the delay pattern. Nothing in it reads a value back to the host, so on CUDA
  it is captured once into a CUDA graph and replayed. The host copies the new column out (the one sync per
  step), hands it to the streamer and decides when to stop.
- **Sampling** draws ``argmax(p / q)`` with ``q ~ Exp(1)``: the formula ATen's ``multinomial(p, 1)`` uses,
  without its host-side validity checks (which a graph cannot hold). On the CPU, the same seed therefore
  gives the same codes as parler's ``generate()`` (tests/test_parler_fast.py).
- **Shapes, buckets:** a graph's shapes depend on the description length (one per voice), the cache length
  (rounded up to a power of two, at least ``MIN_CACHE_LEN``) and the logits settings; not on the prompt,
  which lives in the cache, with a self-attention mask that spans the whole cache. So one graph per cache
  bucket covers every answer; ``warm_up()`` captures the buckets an answer can need before the first one.
- Anything ``generate()`` would do that this does not (beam search, guidance, repetition penalty, prompt
  cross-attention, a padded description, ...) raises ``FastPathUnsupported``, and the caller uses parler's
  eager ``generate()`` instead.

Batch size 1. Not thread-safe: one generation at a time per generator. ``ParlerSpeaker`` keeps a pool of them,
one per speaking slot, and lends each answer a free one for the length of its generation; an answer that finds
none free uses parler's eager ``generate()``.
"""

from __future__ import annotations

import copy
import logging
import math
import os
from dataclasses import dataclass

import torch
from transformers import (LogitsProcessorList, MinLengthLogitsProcessor, MinNewTokensLengthLogitsProcessor,
                          StoppingCriteriaList, SuppressTokensLogitsProcessor, TemperatureLogitsWarper,
                          TopKLogitsWarper, TopPLogitsWarper)
from transformers.cache_utils import EncoderDecoderCache, StaticCache

log = logging.getLogger(__name__)

MIN_CACHE_LEN = 512
# Logits processors that are pure tensor functions of the scores: safe to replay as they were captured.
GRAPH_SAFE_PROCESSORS = (SuppressTokensLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper)
# Capture after this many eager steps on a side stream (cuBLAS/SDPA pick and cache their kernels first).
CAPTURE_WARM_STEPS = 2


class _DropDeprecatedCacheNotice(logging.Filter):
    """parler-tts 0.2.3 asks a static cache ``get_max_length()``, which transformers 4.46 warns is deprecated."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "get_max_cache()" not in record.getMessage()


logging.getLogger("transformers.cache_utils").addFilter(_DropDeprecatedCacheNotice())


class FastPathUnsupported(ValueError):
    """This generation asks for something the static-cache path does not do; use ``generate()``."""


def cache_bucket(length: int) -> int:
    """The cache length a graph is built for: the next power of two, at least ``MIN_CACHE_LEN``."""
    return max(MIN_CACHE_LEN, 1 << max(0, length - 1).bit_length())


def _frozen(value):
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(item) for item in value)
    return value


def _processor_signature(processor) -> tuple:
    """What a graph-safe processor does, as a hashable value: graphs are keyed on it."""
    settings = sorted(vars(processor).items())
    return (type(processor).__name__,) + tuple((name, _frozen(value)) for name, value in settings)


@dataclass
class _Plan:
    """One call's generation settings, checked and resolved the way ``generate()`` resolves them."""

    max_length: int  # the start column plus every generated column
    min_new_tokens: int
    min_length: int
    eos: int
    pad: int
    start: int
    processors: list  # in generate()'s order; the stateful ones stand for in-graph equivalents
    signature: tuple


class _Session:
    """Static buffers, caches and (on CUDA) the captured graph for one shape: description length, cache length
    and logits settings."""

    def __init__(self, model, plan: _Plan, encoder_len: int, cache_len: int):
        decoder_config = model.config.decoder
        device, dtype = model.device, model.dtype
        cross_config = copy.deepcopy(decoder_config)
        cross_config.update({"num_key_value_heads": decoder_config.num_cross_attention_key_value_heads})
        self.cache = EncoderDecoderCache(
            StaticCache(config=decoder_config, batch_size=1, max_cache_len=cache_len, device=device, dtype=dtype),
            StaticCache(config=cross_config, batch_size=1, max_cache_len=encoder_len, device=device, dtype=dtype),
        )
        codebooks = int(model.decoder.num_codebooks)
        self.plan = plan
        self.cache_len = cache_len
        self.codebooks = codebooks
        self.codebook_index = torch.arange(codebooks, device=device)
        self.column = torch.zeros((codebooks, 1), dtype=torch.long, device=device)  # the next decoder input
        self.tokens = torch.zeros(codebooks, dtype=torch.long, device=device)  # what the last step sampled
        self.position = torch.zeros(1, dtype=torch.long, device=device)  # cache position of `column`
        self.generated = torch.zeros(1, dtype=torch.long, device=device)  # columns sampled so far
        self.unfinished = torch.ones(codebooks, dtype=torch.bool, device=device)
        self.eos_seen = torch.zeros(codebooks, dtype=torch.bool, device=device)
        self.first_unfinished = torch.zeros(1, dtype=torch.long, device=device)  # Parler's EOS rule
        self.min_new_tokens = torch.zeros(1, dtype=torch.long, device=device)
        self.min_length = torch.zeros(1, dtype=torch.long, device=device)
        self.delay_mask = torch.full((codebooks, cache_len), plan.pad, dtype=torch.long, device=device)
        self.attention_mask = torch.ones((1, cache_len), dtype=torch.long, device=device)
        self.encoder_hidden_states = torch.zeros(
            (1, encoder_len, decoder_config.hidden_size), dtype=dtype, device=device)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.graph_plan: _Plan | None = None  # keeps the tensors the graph's logits processors read alive


class StaticParlerGenerator:
    """``generate(streamer=..., **kwargs)`` with a static cache; on CUDA each step is a replayed CUDA graph.

    ``use_graphs`` defaults to "on CUDA" (decided at each call: on ZeroGPU the weights reach the GPU only
    inside a GPU call). On the CPU the same step runs eagerly (what the tests check).
    """

    def __init__(self, model, *, use_graphs: bool | None = None):
        if getattr(model, "prompt_cross_attention", False):
            raise FastPathUnsupported("prompt cross-attention is not supported")
        self.model = model
        self._use_graphs = use_graphs
        self.warmed_in_process: int | None = None  # graphs belong to the process that captured them
        self.codebooks = int(model.decoder.num_codebooks)
        self.vocab_size = int(model.decoder.config.vocab_size)
        self._sessions: dict[tuple, _Session] = {}
        self.steps = 0  # decoder steps run, prefill included (for benchmarks)

    @property
    def use_graphs(self) -> bool:
        return self.model.device.type == "cuda" if self._use_graphs is None else self._use_graphs

    @property
    def graphs(self) -> int:
        return sum(session.graph is not None for session in self._sessions.values())

    # ------------------------------------------------------------------ planning

    def plan(self, device=None, **kwargs) -> _Plan:
        """Resolve ``generate()`` keyword arguments the way ``generate()`` would, or raise FastPathUnsupported.
        ``device``: where its tensors go (default the model's; "cpu" to only check, touching no GPU)."""
        from parler_tts.logits_processors import ParlerTTSLogitsProcessor

        model = self.model
        config = copy.deepcopy(model.generation_config)
        extra = config.update(**kwargs)
        if extra:
            raise FastPathUnsupported(f"unsupported generate() arguments: {sorted(extra)}")
        config.validate()
        if (config.num_beams or 1) != 1 or (config.num_return_sequences or 1) != 1:
            raise FastPathUnsupported("beam search / several sequences")
        if config.guidance_scale not in (None, 1, 1.0):
            raise FastPathUnsupported("classifier-free guidance")
        if not config.do_sample:
            raise FastPathUnsupported("greedy decoding")
        device = model.device if device is None else torch.device(device)
        model._prepare_special_tokens(config, True, device=device)
        eos = config._eos_token_tensor
        if eos is None or eos.numel() != 1 or config._pad_token_tensor is None:
            raise FastPathUnsupported("needs exactly one EOS id and a pad id")
        eos, pad = int(eos.reshape(-1)[0]), int(config._pad_token_tensor)
        if eos != pad:
            raise FastPathUnsupported("EOS and pad ids differ")
        start = int(config._decoder_start_token_tensor)
        max_length = config.max_new_tokens + 1 if config.max_new_tokens is not None else config.max_length
        parler_rule = ParlerTTSLogitsProcessor(eos, self.codebooks, 1, device)
        processors = model._get_logits_processor(
            generation_config=config, input_ids_seq_length=1, encoder_input_ids=None,
            prefix_allowed_tokens_fn=None, logits_processor=LogitsProcessorList([parler_rule]), device=device,
        )
        for processor in processors:
            stateful = (ParlerTTSLogitsProcessor, MinNewTokensLengthLogitsProcessor, MinLengthLogitsProcessor)
            if not isinstance(processor, stateful + GRAPH_SAFE_PROCESSORS):
                raise FastPathUnsupported(f"logits processor {type(processor).__name__}")
        signature = tuple(
            (type(p).__name__,) if isinstance(p, (ParlerTTSLogitsProcessor, MinNewTokensLengthLogitsProcessor,
                                                  MinLengthLogitsProcessor))
            else _processor_signature(p)
            for p in processors
        )
        return _Plan(max_length=int(max_length), min_new_tokens=int(config.min_new_tokens or 0),
                     min_length=int(config.min_length or 0), eos=eos, pad=pad, start=start,
                     processors=list(processors), signature=signature)

    # ------------------------------------------------------------------ generation

    @torch.inference_mode()
    def generate(self, *, input_ids, attention_mask, prompt_input_ids, prompt_attention_mask, streamer=None,
                 stopping_criteria: StoppingCriteriaList | None = None, **kwargs) -> torch.Tensor:
        """Like parler's ``generate()`` for one answer: feeds ``streamer`` column by column (``put``/``end``)
        and returns the generated columns, ``(num_codebooks, steps + 1)``, start column included."""
        plan = self.plan(**kwargs)
        if input_ids.shape[0] != 1 or prompt_input_ids.shape[0] != 1:
            raise FastPathUnsupported("batch size 1 only")
        if attention_mask is not None and not bool(attention_mask.all()):
            raise FastPathUnsupported("a padded description")
        prompt_len = prompt_input_ids.shape[1]
        session = self._session(plan, input_ids.shape[1], cache_bucket(prompt_len + plan.max_length))
        criteria = stopping_criteria or StoppingCriteriaList()

        self._prefill(session, plan, input_ids, attention_mask, prompt_input_ids, prompt_attention_mask)
        columns = [torch.full((self.codebooks,), plan.start, dtype=torch.long)]
        if streamer is not None:
            streamer.put(columns[0][:, None])
        while True:
            tokens = session.tokens.cpu()  # the one host sync of a step
            columns.append(tokens)
            if streamer is not None:
                streamer.put(tokens)
            if len(columns) >= plan.max_length or bool((tokens == plan.eos).all()):
                break
            if criteria and bool(criteria(tokens[:, None], None).all()):
                break
            self._step(session)
        if streamer is not None:  # as generate(): only when generation ends normally (an error propagates)
            streamer.end()
        return torch.stack(columns, dim=1)

    @torch.inference_mode()
    def warm_up(self, input_ids, attention_mask=None, *, prompt_lengths=(8,), **kwargs) -> None:
        """Capture the graphs that answers with this description (``input_ids``) and these prompt lengths need
        (one per cache bucket) and run each once, so the first real answer replays instead of capturing."""
        plan = self.plan(**kwargs)
        device = self.model.device
        attention_mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        # Sampling during warm-up must not move the CPU generator: a seeded answer after it stays reproducible.
        buckets = {cache_bucket(length + plan.max_length): length for length in sorted(set(prompt_lengths))}
        with torch.random.fork_rng(devices=[]):
            for cache_len, prompt_len in buckets.items():  # one prefill and capture per bucket
                prompt = torch.ones((1, prompt_len), dtype=torch.long, device=device)
                session = self._session(plan, input_ids.shape[1], cache_len)
                self._prefill(session, plan, input_ids, attention_mask, prompt, torch.ones_like(prompt))
                self._step(session)
        self.warmed_in_process = os.getpid()

    def _session(self, plan: _Plan, encoder_len: int, cache_len: int) -> _Session:
        key = (encoder_len, cache_len, plan.signature)
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = _Session(self.model, plan, encoder_len, cache_len)
            log.info("Parler fast path: new static cache for a %d-token description, %d positions", encoder_len,
                     cache_len)
        else:
            # Same settings; only the limits may differ (they are buffers, not captured constants).
            session.plan = plan
        return session

    def _prefill(self, session: _Session, plan: _Plan, input_ids, attention_mask, prompt_input_ids,
                 prompt_attention_mask) -> None:
        """Reset the session's state and run the first column (description, prompt, start column) eagerly."""
        model, device = self.model, self.model.device
        prompt_len = prompt_input_ids.shape[1]
        session.cache.reset()
        start = torch.full((self.codebooks, 1), plan.start, dtype=torch.long, device=device)
        first_column, delay_mask = model.decoder.build_delay_pattern_mask(
            start, bos_token_id=plan.start, pad_token_id=plan.pad, max_length=plan.max_length)
        session.delay_mask.fill_(plan.pad)
        session.delay_mask[:, : plan.max_length].copy_(delay_mask)
        first_column = model.decoder.apply_delay_pattern_mask(first_column, delay_mask)
        session.attention_mask.fill_(1)
        if prompt_attention_mask is not None:
            session.attention_mask[:, :prompt_len].copy_(prompt_attention_mask)
        session.unfinished.fill_(True)
        session.eos_seen.copy_(first_column[:, -1] == plan.eos)
        session.first_unfinished.zero_()
        session.generated.zero_()
        session.min_new_tokens.fill_(plan.min_new_tokens)
        session.min_length.fill_(plan.min_length)
        outputs = model(
            input_ids=input_ids, attention_mask=attention_mask, prompt_input_ids=prompt_input_ids,
            prompt_attention_mask=prompt_attention_mask, decoder_input_ids=first_column,
            decoder_attention_mask=torch.ones((1, 1), dtype=torch.long, device=device),
            past_key_values=session.cache, use_cache=True, return_dict=True,
            cache_position=torch.arange(prompt_len + 1, device=device),
        )
        session.encoder_hidden_states.copy_(outputs.encoder_last_hidden_state)
        session.position.fill_(prompt_len + 1)
        self.steps += 1
        self._choose(session, outputs.logits[:, -1, :].float())

    def _step(self, session: _Session) -> None:
        """One column: replayed from the session's CUDA graph when graphs are on, else run eagerly."""
        self.steps += 1
        if not self.use_graphs:
            self._decode_one(session)
            return
        if session.graph is None:
            self._capture(session)
        session.graph.replay()

    def _capture(self, session: _Session) -> None:
        """Capture ``_decode_one`` into a CUDA graph. The warm-up steps it runs first advance the session's
        state, so the caller's next replay must come after a fresh prefill (``warm_up`` and the first answer
        that needs a new bucket both prefill before stepping, and ``_step`` is only called after one)."""
        saved = {name: getattr(session, name).clone() for name in
                 ("column", "tokens", "position", "generated", "unfinished", "eos_seen", "first_unfinished")}
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(CAPTURE_WARM_STEPS):
                self._decode_one(session)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        # thread_local: another answer may be replaying its own graph on another thread meanwhile
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            self._decode_one(session)
        for name, value in saved.items():  # capture ran the step; start this answer's step from where it was
            getattr(session, name).copy_(value)
        session.graph = graph
        session.graph_plan = session.plan
        log.info("Parler fast path: captured the decoder step for %d cache positions", session.cache_len)

    def _decode_one(self, session: _Session) -> None:
        outputs = self.model.decoder(
            input_ids=session.column, attention_mask=session.attention_mask,
            encoder_hidden_states=session.encoder_hidden_states, past_key_values=session.cache, use_cache=True,
            cache_position=session.position, return_dict=True,
        )
        self._choose(session, outputs.logits[:, -1, :].float())
        session.position.add_(1)

    def _choose(self, session: _Session, scores: torch.Tensor) -> None:
        """``generate()``'s logits processing, sampling and bookkeeping for one column, as tensor ops only."""
        from parler_tts.logits_processors import ParlerTTSLogitsProcessor

        plan = session.plan
        eos = plan.eos
        for processor in plan.processors:
            if isinstance(processor, ParlerTTSLogitsProcessor):
                # Codebook k may end only once every codebook below it has: the first unfinished codebook
                # moves up by at most one per step.
                first = session.first_unfinished
                moves = session.eos_seen.index_select(0, first) & (first < self.codebooks - 1)
                first.add_(moves.long())
                scores = self._forbid_eos(scores, session.codebook_index > first, eos)
            elif isinstance(processor, MinNewTokensLengthLogitsProcessor):
                scores = self._forbid_eos(scores, session.generated < session.min_new_tokens, eos)
            elif isinstance(processor, MinLengthLogitsProcessor):
                scores = self._forbid_eos(scores, session.generated + 1 < session.min_length, eos)
            else:
                scores = processor(session.column, scores)
        probs = torch.softmax(scores, dim=-1)
        noise = torch.empty_like(probs).exponential_(1)
        tokens = torch.argmax(probs / noise, dim=-1)
        tokens = torch.where(session.unfinished, tokens, plan.pad)
        session.unfinished.logical_and_(tokens != eos)
        session.eos_seen.logical_or_(tokens == eos)
        session.tokens.copy_(tokens)
        session.generated.add_(1)
        mask_column = session.delay_mask.index_select(1, session.generated).reshape(-1)
        session.column.copy_(torch.where(mask_column == -1, tokens, mask_column)[:, None])

    @staticmethod
    def _forbid_eos(scores: torch.Tensor, rows: torch.Tensor, eos: int) -> torch.Tensor:
        """``scores`` with EOS set to -inf in ``rows`` (a bool per row, or one bool for all)."""
        column = scores[:, eos]
        scores = scores.clone()
        scores[:, eos] = torch.where(rows, torch.full_like(column, -math.inf), column)
        return scores
