"""Stream Parler-TTS audio while ``model.generate()`` runs: incremental, click-free, cancellable.

``ParlerStreamer`` is a transformers ``BaseStreamer``. ``generate()`` hands it one column of codes per
step (one token per codebook); it turns them into int16 audio chunks that a consumer iterates over. It
differs from ``parler_tts.streamer.ParlerTTSStreamer`` in the ways that matter for a live voice:

- **Incremental decoding.** Parler's decoder predicts its codebooks with a delay pattern: codebook ``k``
  runs ``k`` steps behind codebook 0, so audio frame ``f`` is complete only once column ``f + K`` has
  been generated (``K`` codebooks; column 0 is the start token). The streamer keeps the complete frames
  and decodes, for each chunk, only the new frames plus ``left_context`` frames before them and
  ``lookahead`` frames after them (the codec is convolutional: a frame's audio depends on its
  neighbours). The audio of the lookahead frames is not emitted until the next chunk, where it has its
  own right context. With contexts at least the codec's receptive field, the chunks concatenate to the
  one-shot decode of the same codes, and each chunk costs the same however long the answer grows
  (parler's streamer re-decodes the whole answer for every chunk).
- **First chunk sooner.** The first chunk leaves after ``first_chunk_s`` worth of generated columns (0.5 s:
  42 steps for Jenny, as many as parler's own ``ParlerTTSStreamer(play_steps=43)`` waits), so it decodes
  with a short look-ahead (``first_lookahead`` frames) instead of the full one: its last frames are a close
  approximation of the one-shot decode, not an exact copy, and its held-back crossfade tail is blended
  into the exact re-decode of the next window, which hides the seam. Every later chunk keeps exact context.
- **Chunk sizes.** Later chunks grow with the audio already sent (each at most as long as everything before
  it, up to ``chunk_s``), so a chunk never takes longer to generate than the audio already queued lasts,
  as long as generation is faster than real time; larger chunks keep the per-chunk overhead small.
- **Click-free joins, steady loudness.** The last ``crossfade_ms`` of each chunk is held back and
  crossfaded (raised cosine) with the same span decoded again in the next window; the very start and
  end of the answer get a short fade (``edge_fade_ms``). Audio leaves as int16 with one fixed ``gain``
  for the whole answer: no per-chunk normalisation, so loudness never jumps between chunks.
- **Timeouts and cancellation.** The consumer waits at most ``timeout_s`` for each chunk, then gets
  ``StreamTimeout`` and generation is cancelled; if generation raises, the consumer gets ``StreamError``
  at once. ``cancel()`` (also called when the ``stream()`` generator is closed, e.g. a browser tab went
  away, or when the consumer stops reading and the queue stays full) stops ``generate()`` at its next
  step through a ``StoppingCriteria``.
- Frames holding a special token (bos/eos/pad, or any id >= codebook_size) are dropped, as parler's own
  final decode drops them; an answer shorter than the first chunk arrives as one chunk at the end; no
  empty chunk is ever yielded.

Use it through ``stream()``, which runs ``generate()`` in a daemon thread::

    streamer = ParlerStreamer(model)
    for chunk in streamer.stream(input_ids=..., prompt_input_ids=..., do_sample=True):
        play(chunk)  # mono int16 at streamer.sampling_rate
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from typing import Iterator

import numpy as np
import torch
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

log = logging.getLogger(__name__)

# Codec receptive fields, in frames, measured by perturbing one frame's codes and watching which output
# samples move (see tests/test_streamer.py::test_default_context_covers_the_codec):
# DAC 44.1 kHz (Jenny): +-9.1 frames, symmetric (non-causal convolutions).
# Encodec: the LSTM carries a fading memory of the past (about 20 frames to 1e-6 on a random one) and,
# when non-causal, its convolutions look about 4 frames ahead.
DEFAULT_CONTEXT = {"dac": (12, 12), "dac_on_the_hub": (12, 12), "encodec": (24, 6)}
FALLBACK_CONTEXT = (16, 16)


class StreamError(RuntimeError):
    """Generation failed, or stopped before the consumer got its audio."""


class StreamTimeout(StreamError, TimeoutError):
    """No chunk arrived within ``timeout_s``."""


class _GenerationDone(Exception):
    """Raised from ``end()`` inside ``stream()``'s thread to skip parler's redundant final decode."""


class CancelCriteria(StoppingCriteria):
    """Stops ``generate()`` at its next step once ``event`` is set."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def _hop_length(audio_encoder) -> int:
    """Samples per codec frame."""
    inner = getattr(audio_encoder, "model", None)
    if inner is not None and getattr(inner, "hop_length", None):  # parler's DAC wrapper
        return int(inner.hop_length)
    ratios = getattr(audio_encoder.config, "upsampling_ratios", None)  # Encodec
    if ratios:
        return int(np.prod(ratios))
    config = audio_encoder.config
    return int(math.floor(config.sampling_rate / config.frame_rate))


def _raised_cosine(n: int) -> np.ndarray:
    """A fade-in ramp of ``n`` samples from 0 towards 1 (its mirror is the matching fade-out)."""
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(n, dtype=np.float32) + 0.5) / n)).astype(np.float32)


class ParlerStreamer(BaseStreamer):
    """Turns Parler-TTS codes into int16 audio chunks while ``generate()`` runs (batch size 1)."""

    def __init__(
        self,
        model,
        *,
        first_chunk_s: float = 0.5,
        chunk_s: float = 1.5,
        left_context: int | None = None,
        lookahead: int | None = None,
        first_lookahead: int | None = 2,
        crossfade_ms: float = 10.0,
        edge_fade_ms: float = 5.0,
        gain: float = 1.0,
        timeout_s: float = 30.0,
        join_timeout_s: float = 10.0,
        max_queued_chunks: int = 64,
        generate=None,
    ):
        self.model = model
        self.generate = generate or model.generate  # or a drop-in, e.g. parler_fast.StaticParlerGenerator's
        self.audio_encoder = model.audio_encoder
        self.num_codebooks = int(model.decoder.num_codebooks)
        self.codebook_size = int(self.audio_encoder.config.codebook_size)
        self.sampling_rate = int(self.audio_encoder.config.sampling_rate)
        self.hop_length = _hop_length(self.audio_encoder)
        self.frame_rate = self.sampling_rate / self.hop_length
        self.use_4dim_audio_codes = bool(getattr(model, "use_4dim_audio_codes", True))
        self.use_audio_scales = bool(getattr(model, "use_audio_scales", False))

        default_left, default_right = DEFAULT_CONTEXT.get(self.audio_encoder.config.model_type, FALLBACK_CONTEXT)
        self.left_context = int(default_left if left_context is None else left_context)
        self.lookahead = int(default_right if lookahead is None else lookahead)
        # None: the full look-ahead for the first chunk too (exact, but it starts later)
        self.first_lookahead = self.lookahead if first_lookahead is None else min(int(first_lookahead), self.lookahead)
        # Like parler's play_steps: the first chunk leaves once first_chunk_s worth of columns (the start
        # column included) exist; `columns` columns hold columns - K complete frames.
        first_columns = round(first_chunk_s * self.frame_rate)
        self.first_chunk_frames = max(1, first_columns - self.num_codebooks - self.first_lookahead)
        self.chunk_frames = max(1, round(chunk_s * self.frame_rate))
        # The held-back crossfade span is decoded again in the next window, so it must fit in its left context.
        self.crossfade = min(round(crossfade_ms * self.sampling_rate / 1000), self.left_context * self.hop_length)
        self.edge_fade = round(edge_fade_ms * self.sampling_rate / 1000)
        self.gain = float(gain)
        self.timeout_s = float(timeout_s)
        self.join_timeout_s = float(join_timeout_s)

        # generation side (the generate thread)
        # Plain Python lists: a step brings K small ints, and numpy's per-call overhead would dominate.
        self._columns: list[list[int]] = []  # raw columns as generate() put them, in the delay pattern
        self._frames: list[list[int]] = []  # complete, valid frames, K codes each
        self._checked = 0  # complete frames examined so far (valid or not)
        self._emitted = 0  # frames whose audio has been queued (less the held-back crossfade tail)
        self._tail = np.zeros(0, dtype=np.float32)
        self._chunks_out = 0
        self.steps_before_first_chunk: int | None = None  # generation steps when the first chunk left
        self._ended = False
        self._abort_in_end = False

        # consumer side
        self._queue: queue.Queue = queue.Queue(maxsize=max_queued_chunks)
        self._cancel = threading.Event()
        self._done = False
        self.thread: threading.Thread | None = None

        # what it cost, for tests and benchmarks
        self.decode_seconds: list[float] = []
        self.decoded_frames: list[int] = []

    # ------------------------------------------------------------------ the generate() side

    def put(self, value: torch.Tensor) -> None:
        """Called by ``generate()``: first the start column ``(K, 1)``, then one ``(K,)`` column per step."""
        if self._cancel.is_set():
            return
        if value.shape[0] != self.num_codebooks:
            raise ValueError(f"ParlerStreamer supports batch size 1 only (got {value.shape[0]} rows)")
        if value.dim() == 1:
            self._columns.append(value.tolist())
        else:
            self._columns.extend(value.t().tolist())
        self._collect_frames()
        first = self._chunks_out == 0
        lookahead = self.first_lookahead if first else self.lookahead
        settled = len(self._frames) - lookahead
        # later chunks: at most as long as all the audio before them, up to chunk_frames
        grown = min(self.chunk_frames, max(self.first_chunk_frames, self._emitted))
        wanted = self.first_chunk_frames if first else grown
        if settled - self._emitted >= wanted:
            if first:
                self.steps_before_first_chunk = len(self._columns) - 1
            self._emit_chunk(stop=settled, final=False, lookahead=lookahead)

    def end(self) -> None:
        """Called by ``generate()`` when it stops: flush what is left, then signal the end."""
        if self._ended:
            return
        try:
            if not self._cancel.is_set():
                self._collect_frames()
                if len(self._frames) > self._emitted or self._tail.size:
                    self._emit_chunk(stop=len(self._frames), final=True)
        except BaseException as error:
            self._ended = True
            self._send("error", error)
            raise
        self._ended = True
        self._send("end", None)
        if self._abort_in_end:
            # parler's generate() would now decode the whole answer once more for its return value, which
            # nobody reads when streaming; leave before it does.
            raise _GenerationDone()

    def _collect_frames(self) -> None:
        """Move newly complete frames out of the delay pattern; drop those holding a special token."""
        complete = len(self._columns) - self.num_codebooks  # frame f needs column f + K
        columns, size = self._columns, self.codebook_size
        for frame in range(self._checked, complete):
            # codebook k of frame f sits in column f + 1 + k (column 0 is the start token)
            codes = [columns[frame + 1 + k][k] for k in range(self.num_codebooks)]
            if max(codes) < size and min(codes) >= 0:
                self._frames.append(codes)
        self._checked = max(self._checked, complete)

    @property
    def codes(self) -> np.ndarray:
        """All valid frames so far, ``(num_codebooks, frames)``: what a one-shot decode would decode."""
        return self._codes(0, len(self._frames))

    def _codes(self, start: int, stop: int) -> np.ndarray:
        return np.array(self._frames[start:stop], dtype=np.int64).reshape(-1, self.num_codebooks).T

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """One decode of ``(num_codebooks, frames)`` codes to float32 mono audio."""
        tensor = torch.as_tensor(codes, dtype=torch.long, device=self.audio_encoder.device)[None]
        if self.use_4dim_audio_codes:
            tensor = tensor[None]
        kwargs = {"audio_scales": [None]} if self.use_audio_scales else {}
        with torch.inference_mode():
            audio = self.audio_encoder.decode(audio_codes=tensor, **kwargs).audio_values
        return audio.reshape(-1).float().cpu().numpy()

    def _emit_chunk(self, stop: int, final: bool, lookahead: int = 0) -> None:
        start = self._emitted
        window_start = max(0, start - self.left_context)
        window_stop = len(self._frames) if final else min(len(self._frames), stop + lookahead)
        hop = self.hop_length
        pieces = []
        if stop > start:
            began = time.perf_counter()
            audio = self.decode(self._codes(window_start, window_stop))
            self.decode_seconds.append(time.perf_counter() - began)
            self.decoded_frames.append(window_stop - window_start)
            expected = (window_stop - window_start) * hop
            if audio.size < expected:  # a codec that returns a little less: pad, never misalign
                audio = np.pad(audio, (0, expected - audio.size))
            offset = (start - window_start) * hop
            tail = self._tail.size
            if tail:
                again = audio[offset - tail : offset]
                fade_in = _raised_cosine(tail)
                pieces.append(self._tail * (1.0 - fade_in) + again * fade_in)
            segment = audio[offset : (stop - window_start) * hop]
        else:
            segment = np.zeros(0, dtype=np.float32)
            if self._tail.size:
                pieces.append(self._tail)
        if final:
            pieces.append(segment)
            self._tail = np.zeros(0, dtype=np.float32)
        else:
            keep = max(0, segment.size - self.crossfade)
            pieces.append(segment[:keep])
            self._tail = segment[keep:].copy()
        chunk = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        if self._chunks_out == 0 and self.edge_fade and chunk.size:
            n = min(self.edge_fade, chunk.size)
            chunk = chunk.copy()
            chunk[:n] *= _raised_cosine(n)
        if final and self.edge_fade and chunk.size:
            n = min(self.edge_fade, chunk.size)
            chunk = chunk.copy()
            chunk[-n:] *= _raised_cosine(n)[::-1]
        self._emitted = stop
        if chunk.size:
            self._chunks_out += 1
            self._send("audio", self._to_int16(chunk))

    def _to_int16(self, audio: np.ndarray) -> np.ndarray:
        return (np.clip(audio * self.gain, -1.0, 1.0) * 32767.0).astype(np.int16)

    def _send(self, kind: str, payload) -> None:
        try:
            if self._cancel.is_set():  # the consumer may be gone: never wait for it
                self._queue.put_nowait((kind, payload))
            else:
                self._queue.put((kind, payload), timeout=self.timeout_s)
        except queue.Full:
            if self._cancel.is_set():
                return
            # Nobody has read for timeout_s: the consumer is gone. Stop generating.
            log.warning("parler streamer: consumer stopped reading; cancelling generation")
            self._cancel.set()

    # ------------------------------------------------------------------ the consumer side

    def __iter__(self) -> "ParlerStreamer":
        return self

    def __next__(self) -> np.ndarray:
        if self._done:
            raise StopIteration
        try:
            kind, payload = self._queue.get(timeout=self.timeout_s)
        except queue.Empty:
            self._done = True
            self.cancel()
            raise StreamTimeout(f"Parler-TTS produced no audio for {self.timeout_s:g} s") from None
        if kind == "audio":
            return payload
        self._done = True
        if kind == "end":
            raise StopIteration
        raise StreamError(f"Parler-TTS generation failed: {payload!r}") from payload

    def cancel(self) -> None:
        """Ask ``generate()`` to stop at its next step; no more chunks are produced."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def stream(self, **generate_kwargs) -> Iterator[np.ndarray]:
        """Run ``generate(**generate_kwargs)`` in a thread and yield its audio chunks.

        Closing the generator (or leaving a ``for`` loop over it early) cancels generation and waits up to
        ``join_timeout_s`` for the thread to end.
        """
        if self.thread is not None:
            raise RuntimeError("a ParlerStreamer streams one generation; make a new one")
        criteria = StoppingCriteriaList(generate_kwargs.pop("stopping_criteria", None) or [])
        criteria.append(CancelCriteria(self._cancel))
        kwargs = dict(generate_kwargs, streamer=self, stopping_criteria=criteria)
        self._abort_in_end = True
        self.thread = threading.Thread(target=self._generate, args=(kwargs,), name="parler-generate", daemon=True)
        self.thread.start()
        try:
            yield from self
        finally:
            self.cancel()
            self.thread.join(timeout=self.join_timeout_s)
            if self.thread.is_alive():
                log.warning("parler generation still running %.0f s after it was cancelled", self.join_timeout_s)

    def _generate(self, kwargs: dict) -> None:
        try:
            self.generate(**kwargs)
        except _GenerationDone:
            pass
        except BaseException as error:  # handed to the consumer, who raises it
            if not self._ended:
                self._ended = True
                self._send("error", error)
            else:
                log.debug("parler generation raised after the stream ended: %r", error)
        else:
            if not self._ended:  # generate() returned without calling end()
                self._ended = True
                self._send("end", None)
