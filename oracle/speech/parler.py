"""The ``parler`` speaker: Parler-TTS (by default the "Jenny" voice), streamed chunk by chunk.

Weights come from ``settings.parler_model``: a Hub repo id (default ``ylacombe/parler-tts-mini-jenny-30H``,
as on the original Space) or a local directory saved with ``save_pretrained``. The Jenny repo ships no
tokenizer; like the original Space it uses the one of ``parler-tts/parler_tts_mini_v0.1``. A local
directory brings its own. fp16 on CUDA (the decoder then runs SDPA attention, which transformers picks by
default; the T5 encoder has no SDPA in transformers 4.46, so it cannot be requested for the whole model),
fp32 on CPU.

Multilingual (``ParlerSpeaker(settings, model_id=settings.parler_multilingual_model, descriptions=...)``,
default ``parler-tts/parler-tts-mini-multilingual-v1.1``: en fr es pt pl de nl it): the description still goes
through the text encoder (flan-t5-large), but the prompt through the repo's own, larger tokenizer, so the
description needs the text encoder's tokenizer, loaded from where the model's config says the encoder came
from (``config.text_encoder._name_or_path``), as the model card does. A local directory of such a model keeps
that tokenizer in a ``description_tokenizer/`` subfolder. ``descriptions`` maps a language code to the voice
that speaks it (the model reads the language from the text itself; the description picks the speaker).

``stream(text)`` runs generation in a thread through ``streamer.ParlerStreamer`` and yields mono int16
chunks at ``sample_rate``; closing the iterator (a browser tab closed) cancels generation. On CUDA it
generates through ``oracle.speech.parler_fast`` (static KV cache, the decoder step replayed as a CUDA graph);
parler's eager ``generate()`` is the fallback, and one log line at load says which path runs. ``warm_up()``
captures the graphs, so it must run where speaking runs: on ZeroGPU, inside the ``@spaces.GPU`` call that
speaks (graphs live in that worker process), never in the main process. Anything that
goes wrong - the weights cannot be loaded, generation raises or stalls - surfaces as ``EngineUnavailable``,
so the pipeline can fall back to another voice.
"""

from __future__ import annotations

import logging
import os
import queue
from typing import Iterator

import numpy as np

from oracle.config import Settings
from oracle.errors import EngineUnavailable
from oracle.languages import ENGLISH, Language

log = logging.getLogger(__name__)

JENNY_REPO = "ylacombe/parler-tts-mini-jenny-30H"
MULTILINGUAL_REPO = "parler-tts/parler-tts-mini-multilingual-v1.1"
# Hub repos that ship no tokenizer of their own -> where theirs comes from.
TOKENIZER_REPOS = {JENNY_REPO: "parler-tts/parler_tts_mini_v0.1"}
# Hub repos whose prompt tokenizer is not the text encoder's: the description needs the encoder's own.
SEPARATE_DESCRIPTION_TOKENIZER = {MULTILINGUAL_REPO, "parler-tts/parler-tts-mini-multilingual"}
# A local save_pretrained directory of such a model keeps the description tokenizer here.
DESCRIPTION_TOKENIZER_DIR = "description_tokenizer"
JENNY_DESCRIPTION = (
    "Jenny speaks at an average pace with an animated delivery in a very confined sounding environment "
    "with clear audio quality."
)
WARM_UP_TEXT = "The oracle is listening."
# Prompt lengths whose cache buckets warm_up() captures: a spoken answer (at most 160 characters) is well under
# 128 tokens; a longer /speak text lands in the same bucket unless its audio needs a longer cache.
WARM_UP_PROMPT_TOKENS = (16, 128)
WARM_UP_CODEC_FRAMES = 64  # about one chunk's decode window


def _on_zerogpu() -> bool:
    """Whether this runs on a ZeroGPU Space (as the ``spaces`` package itself decides it)."""
    try:
        import spaces.config
    except ImportError:
        return False
    return bool(spaces.config.Config.zero_gpu)


class _DropSharedConfigNotice(logging.Filter):
    """parler-tts logs every sub-model's whole config ("... is overwritten by shared ... config") on each load."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is overwritten by shared" not in record.getMessage()


def _reason(error: BaseException) -> str:
    first_line = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first_line[:300]}"


def _from_pretrained(settings: Settings, dtype, model_id: str | None = None):
    """Load model, prompt tokenizer and description tokenizer (often the same one) from a local directory,
    else from the local Hub cache, else from the Hub.

    Reaching an unreachable Hub through ``from_pretrained`` takes about a minute (huggingface_hub retries
    each file five times with backoff), so before downloading from a repo one ``model_info`` call with
    ``settings.request_timeout_s`` finds out whether the Hub answers at all.
    """
    from parler_tts import ParlerTTSForConditionalGeneration
    from transformers import AutoTokenizer

    model_id = model_id or settings.parler_model
    if os.path.isdir(model_id):
        if not os.path.isfile(os.path.join(model_id, "config.json")):
            raise FileNotFoundError(f"no config.json in {model_id} (not a save_pretrained directory)")
        model = ParlerTTSForConditionalGeneration.from_pretrained(model_id, torch_dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(model_id)
        description_dir = os.path.join(model_id, DESCRIPTION_TOKENIZER_DIR)
        if os.path.isdir(description_dir):
            description_tokenizer = AutoTokenizer.from_pretrained(description_dir)
            return model, tokenizer, _checked_description_tokenizer(model, description_tokenizer)
        return model, tokenizer, _checked_description_tokenizer(model, tokenizer)

    def cached_or_fetched(load, repo_id: str):
        try:  # already downloaded (a restarted Space, a preloaded cache): no network at all
            return load(repo_id, local_files_only=True)
        except Exception:
            log.info("%r is not in the local Hub cache; fetching it", repo_id)
        from huggingface_hub import model_info

        model_info(repo_id, timeout=settings.request_timeout_s, token=settings.hf_token)  # fails fast offline
        return load(repo_id, token=settings.hf_token)

    model = cached_or_fetched(
        lambda repo_id, **kw: ParlerTTSForConditionalGeneration.from_pretrained(repo_id, torch_dtype=dtype, **kw),
        model_id,
    )
    tokenizer = cached_or_fetched(AutoTokenizer.from_pretrained, TOKENIZER_REPOS.get(model_id, model_id))
    if model_id not in SEPARATE_DESCRIPTION_TOKENIZER:
        return model, tokenizer, _checked_description_tokenizer(model, tokenizer)
    encoder_source = model.config.text_encoder._name_or_path
    if not encoder_source:
        raise ValueError(f"{model_id}: its config does not say where its text encoder (and tokenizer) came from")
    return model, tokenizer, _checked_description_tokenizer(
        model, cached_or_fetched(AutoTokenizer.from_pretrained, encoder_source))


def _checked_description_tokenizer(model, tokenizer):
    """``tokenizer``, if its ids fit the text encoder's embedding (a prompt tokenizer used for descriptions by
    mistake would index past it, or worse, silently mean other words)."""
    encoder_vocab = int(model.config.text_encoder.vocab_size)
    if len(tokenizer) > encoder_vocab:
        raise ValueError(f"the description tokenizer has {len(tokenizer)} tokens, more than the text encoder's "
                         f"{encoder_vocab}: this model needs its text encoder's own tokenizer "
                         f"(a local directory keeps it in {DESCRIPTION_TOKENIZER_DIR}/)")
    return tokenizer


class ParlerSpeaker:
    """Speaker protocol: ``name``, ``sample_rate``, ``stream(text, language) -> Iterator[int16 chunk]``.

    ``model_id``: the weights (default ``settings.parler_model``). ``description``: the voice for any language
    ``descriptions`` (language code -> description) does not name.
    """

    name = "parler"

    def __init__(
        self,
        settings: Settings,
        *,
        model_id: str | None = None,
        name: str | None = None,
        description: str = JENNY_DESCRIPTION,
        descriptions: dict[str, str] | None = None,
        first_chunk_s: float = 0.5,
        chunk_s: float = 1.5,
        chunk_timeout_s: float = 30.0,
        max_seconds: float | None = None,
        device: str | None = None,
        fast: bool | None = None,
        fast_slots: int = 2,
    ):
        self.model_id = model_id or settings.parler_model
        if name is not None:
            self.name = name
        self.description = description
        self.descriptions = dict(descriptions or {})
        self.first_chunk_s = first_chunk_s
        self.chunk_s = chunk_s
        self.chunk_timeout_s = chunk_timeout_s
        self.max_seconds = max_seconds
        self.model, self.tokenizer, self.description_tokenizer, self.device = self._load(settings, self.model_id,
                                                                                        device)
        config = self.model.audio_encoder.config
        self.sample_rate = int(config.sampling_rate)
        self.num_codebooks = int(self.model.decoder.num_codebooks)
        self._description_inputs = self._tokenized_description(description)
        self._description_inputs_by_language = {
            language: self._tokenized_description(text) for language, text in self.descriptions.items()}
        # A static cache (and its graphs) serves one answer at a time: one generator per speaking slot (the app
        # speaks at most two answers at once); an answer that finds none free uses parler's generate().
        self.fast: list = self._fast_generators(fast, fast_slots)
        self.fast_failed = False
        self._free_fast: queue.SimpleQueue = queue.SimpleQueue()
        for generator in self.fast:
            self._free_fast.put(generator)

    def _fast_generators(self, wanted: bool | None, slots: int) -> list:
        """Static-cache generators when ``wanted`` (default: on CUDA), else none; says which path in one line."""
        from oracle.speech.parler_fast import FastPathUnsupported, StaticParlerGenerator

        wanted = self.device.startswith("cuda") if wanted is None else wanted
        if not wanted:
            log.info("Parler-TTS path: eager generate() (no CUDA)")
            return []
        try:
            generators = [StaticParlerGenerator(self.model) for _ in range(slots)]
            generators[0].plan(device="cpu", **self._sampling_kwargs())  # a check only: no GPU at load (ZeroGPU)
        except FastPathUnsupported as error:
            log.warning("Parler-TTS path: eager generate() (the fast path cannot run this model: %s)", error)
            return []
        log.info("Parler-TTS path: fast, %d slot(s) (static KV cache, %s)", slots,
                 "decoder step replayed as a CUDA graph" if generators[0].use_graphs else "eager steps")
        return generators

    def _tokenized_description(self, description: str):
        return self.description_tokenizer(description, return_tensors="pt").to(self.device)

    def _description_for(self, language: Language):
        return self._description_inputs_by_language.get(language, self._description_inputs)

    @staticmethod
    def _load(settings: Settings, model_id: str, device: str | None):
        parler_logger = logging.getLogger("parler_tts.modeling_parler_tts")
        notice_filter = _DropSharedConfigNotice()
        parler_logger.addFilter(notice_filter)
        try:
            import torch

            device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            dtype = torch.float16 if device.startswith("cuda") else torch.float32
            model, tokenizer, description_tokenizer = _from_pretrained(settings, dtype, model_id)
            model = model.to(device).eval()
        except Exception as error:
            log.error("Parler-TTS unavailable: cannot load %r (%s)", model_id, _reason(error))
            raise EngineUnavailable(f"The Parler-TTS voice could not be loaded from {model_id!r}.") from error
        finally:
            parler_logger.removeFilter(notice_filter)
        log.info(
            "Parler-TTS %r loaded on %s (%s, decoder attention %s, %d Hz)",
            model_id, device, str(dtype).replace("torch.", ""),
            model.decoder.config._attn_implementation, model.audio_encoder.config.sampling_rate,
        )
        return model, tokenizer, description_tokenizer, device

    def _sampling_kwargs(self) -> dict:
        config = self.model.generation_config
        kwargs = dict(
            do_sample=True,
            temperature=1.0,
            # as on the original Space: never stop before 10 steps (more if the model's own config asks)
            min_new_tokens=max(10, config.min_new_tokens or 0),
        )
        if self.max_seconds is not None:
            frame_rate = self.model.audio_encoder.config.frame_rate
            kwargs["max_new_tokens"] = int(self.max_seconds * frame_rate) + self.num_codebooks
        return kwargs

    def _generate_kwargs(self, text: str, language: Language) -> dict:
        prompt = self.tokenizer(text, return_tensors="pt").to(self.device)
        description = self._description_for(language)
        return dict(
            input_ids=description.input_ids,
            attention_mask=description.attention_mask,
            prompt_input_ids=prompt.input_ids,
            prompt_attention_mask=prompt.attention_mask,
            **self._sampling_kwargs(),
        )

    def streamer(self, generate=None):
        from streamer import ParlerStreamer

        return ParlerStreamer(
            self.model, first_chunk_s=self.first_chunk_s, chunk_s=self.chunk_s, timeout_s=self.chunk_timeout_s,
            generate=generate,
        )

    def _warm(self, generator) -> bool:
        """Capture ``generator``'s graphs in this process (one set per description length, so per voice); on
        failure, turn the fast path off (eager from now)."""
        by_length = {inputs.input_ids.shape[1]: inputs
                     for inputs in (self._description_inputs, *self._description_inputs_by_language.values())}
        try:
            for description in by_length.values():
                generator.warm_up(description.input_ids, description.attention_mask,
                                  prompt_lengths=WARM_UP_PROMPT_TOKENS, **self._sampling_kwargs())
            # and the codec, whose first decode in a process pays for its own lazy initialisation
            self.streamer().decode(np.zeros((self.num_codebooks, WARM_UP_CODEC_FRAMES), dtype=np.int64))
        except Exception as error:
            log.error("Parler-TTS path: eager generate() from now on (the fast path failed to warm up: %s)",
                      _reason(error))
            self.fast_failed = True
            return False
        return True

    def _fast_generate(self, **kwargs):
        """One answer through a free fast-path generator; parler's ``generate()`` if none is free, the fast
        path failed, or it cannot do what this answer asks."""
        from oracle.speech.parler_fast import FastPathUnsupported

        if self.fast_failed:
            return self.model.generate(**kwargs)
        try:
            generator = self._free_fast.get_nowait()
        except queue.Empty:
            log.info("Parler-TTS: every fast-path slot is busy; this answer uses eager generate()")
            return self.model.generate(**kwargs)
        try:
            # a fresh process (a ZeroGPU worker): capture its graphs first, inside this (GPU) call
            if generator.warmed_in_process != os.getpid() and not self._warm(generator):
                return self.model.generate(**kwargs)
            return generator.generate(**kwargs)
        except FastPathUnsupported as error:  # raised before any column reaches the streamer
            log.warning("Parler-TTS: eager generate() for this answer (%s)", error)
            return self.model.generate(**kwargs)
        finally:
            self._free_fast.put(generator)

    def stream(self, text: str, language: Language) -> Iterator[np.ndarray]:
        """Speak ``text``: mono int16 chunks at ``sample_rate``, the first after about ``first_chunk_s``."""
        from streamer import StreamError

        if not text or not text.strip():
            return
        streamer = self.streamer(self._fast_generate if self.fast else None)
        chunks = 0
        try:
            for chunk in streamer.stream(**self._generate_kwargs(text, language)):
                chunks += 1
                yield chunk
        except StreamError as error:
            log.error("Parler-TTS failed after %d chunk(s): %s", chunks, _reason(error.__cause__ or error))
            raise EngineUnavailable("The Parler-TTS voice failed while speaking.") from error
        if chunks == 0:
            log.error("Parler-TTS produced no audio for a %d-character text", len(text))
            raise EngineUnavailable("The Parler-TTS voice produced no audio.")

    def warm_up(self) -> None:
        """Capture the fast path's graphs for answers up to ``WARM_UP_PROMPT_TOKENS`` long, then speak one
        short phrase, so the first real answer pays for no lazy initialisation.

        Not on ZeroGPU: there this is called in the main process, which must never run CUDA; each GPU worker
        captures its own graphs before its first answer instead (``_fast_generate``), inside the GPU call.
        """
        if _on_zerogpu():
            log.info("Parler-TTS warm-up deferred to the first @spaces.GPU call (ZeroGPU: no CUDA in the main process)")
            return
        for generator in self.fast:
            if not self._warm(generator):
                break
        for _ in self.stream(WARM_UP_TEXT, ENGLISH):
            pass
