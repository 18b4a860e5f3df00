"""A tiny, randomly initialised Parler-TTS model saved the way real ones are.

Real Parler weights only come from the Hugging Face Hub, which tests cannot reach. This builds a model
of the same classes from hand-made small configs, saves it with ``save_pretrained`` (weights, config,
generation config and a fast tokenizer), so the real loading code (``from_pretrained`` through
``ORACLE_PARLER_MODEL=<dir>``) and the real streaming code run on it.

- text encoder: a 1-layer T5 encoder (d_model 32);
- decoder: a 1-layer Parler decoder over ``NUM_CODEBOOKS`` codebooks with
  vocab = codebook_size + 2 (eos/pad = codebook_size, bos = codebook_size + 1), as Parler's are laid out;
- audio codec: ``codec="encodec"`` (default) a tiny non-causal Encodec, 16 kHz, hop 160 (100 frames/s),
  whose codebooks are filled with random vectors (Encodec initialises them to zeros, which would make every
  code decode to the same sound); ``codec="dac"`` the DAC that Jenny uses (parler's wrapper fixes its size:
  44.1 kHz, hop 512, 76 M parameters - slow on a CPU, for benchmarks);
- tokenizer: a byte-level BPE without merges built with the ``tokenizers`` library and saved as
  ``tokenizer.json`` (converting a slow sentencepiece tokenizer fails under the protobuf<5 the Parler stack
  pins).

``min_new_tokens`` in the saved generation config keeps the random decoder from stopping early, so an
answer's length is set by ``max_length``: ``seconds`` of audio.

``build_parler(..., sizes=JENNY)`` builds the real Jenny architecture instead (flan-t5-base-sized text
encoder, 24-layer decoder of width 1024 with 16 heads, 9 codebooks of 1024, the 44.1 kHz DAC; 647 M
parameters, random weights, which cost the same to run) for ``benchmarks/parler_gpu.py``. Its generation
config suppresses every id >= the codebook size, so random weights never emit a special token mid-answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CODEBOOK_SIZE = 64
NUM_CODEBOOKS = 4


@dataclass(frozen=True)
class ParlerSizes:
    codebook_size: int
    num_codebooks: int
    encoder_layers: int
    encoder_width: int
    encoder_heads: int
    encoder_ffn: int
    encoder_vocab: int | None  # None: the tokenizer's
    encoder_feed_forward: str  # T5's feed_forward_proj
    decoder_vocab: int  # codebook ids, then EOS/pad, BOS and (Jenny) unused ids
    decoder_layers: int
    decoder_width: int
    decoder_heads: int
    decoder_ffn: int


TINY = ParlerSizes(codebook_size=CODEBOOK_SIZE, num_codebooks=NUM_CODEBOOKS, encoder_layers=1, encoder_width=32,
                   encoder_heads=4, encoder_ffn=64, encoder_vocab=None, encoder_feed_forward="relu",
                   decoder_vocab=CODEBOOK_SIZE + 2, decoder_layers=1, decoder_width=32,
                   decoder_heads=4, decoder_ffn=64)
# ylacombe/parler-tts-mini-jenny-30H: google/flan-t5-base encoder, Parler mini decoder, DAC 44.1 kHz.
JENNY = ParlerSizes(codebook_size=1024, num_codebooks=9, encoder_layers=12, encoder_width=768, encoder_heads=12,
                    encoder_ffn=2048, encoder_vocab=32128, encoder_feed_forward="gated-gelu",
                    decoder_vocab=1088, decoder_layers=24, decoder_width=1024, decoder_heads=16,
                    decoder_ffn=4096)


def byte_tokenizer():
    """A fast tokenizer: one token per UTF-8 byte, ``</s>`` appended (as T5 does)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "</s>", "<unk>"]
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {token: index for index, token in enumerate(specials + alphabet)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", vocab["</s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )


def _codec_config(codec: str, sizes: ParlerSizes = TINY):
    if codec == "encodec":
        from transformers import EncodecConfig

        return EncodecConfig(
            sampling_rate=16_000,
            audio_channels=1,
            num_filters=8,
            hidden_size=32,
            upsampling_ratios=[8, 5, 4],
            codebook_size=sizes.codebook_size,
            num_residual_layers=1,
            num_lstm_layers=1,
            # 4 codebooks x 100 frames/s x 10 bits = 4 kbps
            target_bandwidths=[sizes.num_codebooks * 100 * 10 / 1000],
            normalize=False,
            use_causal_conv=False,
        )
    if codec == "dac":
        from parler_tts import DACConfig

        return DACConfig(num_codebooks=sizes.num_codebooks, codebook_size=sizes.codebook_size, latent_dim=1024)
    raise ValueError(f"unknown codec {codec!r}")


def build_tiny_parler(directory: str | Path, *, codec: str = "encodec", seconds: float = 3.0, seed: int = 0) -> Path:
    """Build, randomly initialise and save a tiny Parler-TTS model (with tokenizer) into ``directory``."""
    return build_parler(directory, sizes=TINY, codec=codec, seconds=seconds, seed=seed)


def build_parler(directory: str | Path, *, sizes: ParlerSizes, codec: str, seconds: float, seed: int = 0,
                 suppress_special: bool = False) -> Path:
    """Build, randomly initialise and save a Parler-TTS model of ``sizes`` (with tokenizer) into ``directory``.

    ``suppress_special``: the saved generation config suppresses every id >= the codebook size (EOS too).
    """
    import torch
    from parler_tts import ParlerTTSConfig, ParlerTTSDecoderConfig, ParlerTTSForConditionalGeneration
    from transformers import GenerationConfig, T5Config

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)

    tokenizer = byte_tokenizer()
    vocab_size = len(tokenizer)
    size, codebooks = sizes.codebook_size, sizes.num_codebooks
    text_encoder = T5Config(
        vocab_size=sizes.encoder_vocab or vocab_size, d_model=sizes.encoder_width,
        d_kv=sizes.encoder_width // sizes.encoder_heads, d_ff=sizes.encoder_ffn, num_layers=sizes.encoder_layers,
        num_heads=sizes.encoder_heads, feed_forward_proj=sizes.encoder_feed_forward,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=0,
    )
    audio_encoder = _codec_config(codec, sizes)
    decoder = ParlerTTSDecoderConfig(
        vocab_size=sizes.decoder_vocab,
        max_position_embeddings=4096,
        num_hidden_layers=sizes.decoder_layers,
        ffn_dim=sizes.decoder_ffn,
        num_attention_heads=sizes.decoder_heads,
        num_cross_attention_key_value_heads=sizes.decoder_heads,
        hidden_size=sizes.decoder_width,
        num_codebooks=codebooks,
        pad_token_id=size,
        eos_token_id=size,
        bos_token_id=size + 1,
        dropout=0.0,
    )
    config = ParlerTTSConfig.from_sub_models_config(
        text_encoder, audio_encoder, decoder, vocab_size=sizes.encoder_vocab or vocab_size,
        prompt_cross_attention=False, pad_token_id=size, decoder_start_token_id=size + 1,
    )
    model = ParlerTTSForConditionalGeneration(config).eval()
    if codec == "encodec":
        with torch.no_grad():
            for layer in model.audio_encoder.quantizer.layers:
                layer.codebook.embed.normal_()

    frame_rate = audio_encoder.frame_rate
    frames = int(round(seconds * frame_rate))
    model.generation_config = GenerationConfig(
        decoder_start_token_id=size + 1,
        bos_token_id=size + 1,
        eos_token_id=size,
        pad_token_id=size,
        do_sample=True,
        guidance_scale=1.0,
        # the start column plus the codebook delay, then `frames` full frames
        max_length=1 + codebooks + frames,
        min_new_tokens=codebooks + frames,
        suppress_tokens=list(range(size, model.decoder.config.vocab_size)) if suppress_special else None,
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


if __name__ == "__main__":
    import sys

    print(build_tiny_parler(sys.argv[1] if len(sys.argv) > 1 else "tiny-parler"))
