"""The Space's voice at GPU speed: ``ParlerSpeaker`` eager vs fast path on a Jenny-sized random model.

Builds the real Jenny architecture with random weights (harness/parler_tiny.py ``JENNY``: flan-t5-base-sized
text encoder, 24-layer decoder of width 1024 with 16 heads, 9 codebooks of 1024, the 44.1 kHz DAC; ids >=
1024 suppressed, so every answer is exactly ``--seconds`` long), saves it, loads it through ``ParlerSpeaker``
twice (``fast=False``: parler's ``generate()``; ``fast=True``: static cache and CUDA-graph replay), warms each
up (untimed), then speaks the same answer ``--rounds`` times with each, alternating, and prints medians:

- steps/s: generation steps (one column of codes each) per second of the whole answer;
- first audio: seconds from the call to the first chunk; whole answer: to the last;
- real-time factor: whole answer / seconds of audio;
- gaps: the longest wait between two chunks, and the worst margin of a player that starts at the first
  chunk (audio already sent minus time since the first chunk, at each chunk; negative = it would starve);
- GPU memory: peak allocated while speaking, both loaded copies included (CUDA only).

Targets on one H100/H200: real-time factor <= 0.3 (>= 290 steps/s), first audio <= 0.5 s, margin >= 0.

    .venv/bin/python benchmarks/parler_gpu.py            # on a GPU machine: the Jenny-sized model, fp16
    .venv/bin/python benchmarks/parler_gpu.py --smoke    # tiny sizes on the CPU, seconds (what a test runs)
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from harness.parler_tiny import JENNY, TINY, build_parler  # noqa: E402
from oracle.config import Settings  # noqa: E402
from oracle.speech.parler import ParlerSpeaker  # noqa: E402
from oracle.languages import ENGLISH  # noqa: E402

# 14 characters: 15 tokens with the byte tokenizer's end-of-sequence token (a typical short answer in T5 tokens)
ANSWER = "Patience wins."


def speak_once(speaker: ParlerSpeaker) -> dict:
    cuda = speaker.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    began = time.perf_counter()
    arrivals, seconds = [], []
    for chunk in speaker.stream(ANSWER, ENGLISH):
        arrivals.append(time.perf_counter() - began)
        seconds.append(chunk.size / speaker.sample_rate)
    whole = arrivals[-1]
    audio = sum(seconds)
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    margins = [sum(seconds[:i]) - (arrivals[i] - arrivals[0]) for i in range(1, len(arrivals))]
    steps = speaker.model.generation_config.max_length - 1  # fixed: special ids are suppressed
    return dict(
        first_s=arrivals[0], whole_s=whole, audio_s=audio, rtf=whole / audio, steps_per_s=steps / whole,
        chunks=len(arrivals), max_gap_s=max(gaps, default=0.0), min_margin_s=min(margins, default=0.0),
        peak_gib=torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 s answers, on the CPU: seconds")
    parser.add_argument("--seconds", type=float, default=3.0, help="audio per answer")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default=None, help="default: cuda if available (never with --smoke)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("parler_tts.modeling_parler_tts").setLevel(logging.ERROR)
    if args.smoke:
        sizes, codec, seconds, rounds, device = TINY, "encodec", 1.0, 2, "cpu"
        torch.set_num_threads(1)
    else:
        sizes, codec, seconds, rounds = JENNY, "dac", args.seconds, args.rounds
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")

    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        directory = build_parler(Path(tmp) / "parler", sizes=sizes, codec=codec, seconds=seconds,
                                 suppress_special=True)
        print(f"built and saved the {'tiny' if args.smoke else 'Jenny-sized'} random model in "
              f"{time.perf_counter() - began:.1f} s")
        settings = Settings(parler_model=str(directory))
        # a generous chunk timeout: a benchmark measures slow paths too (the eager one on a CPU, say)
        speakers = {"eager": ParlerSpeaker(settings, device=device, fast=False, chunk_timeout_s=600),
                    "fast": ParlerSpeaker(settings, device=device, fast=True, chunk_timeout_s=600)}
    model = speakers["eager"].model
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"device {device} ({torch.cuda.get_device_name() if device.startswith('cuda') else 'CPU'}), "
          f"{str(model.dtype).replace('torch.', '')}, {params:.0f} M parameters per copy; answer "
          f"{ANSWER!r} = {speakers['eager'].tokenizer(ANSWER, return_tensors='pt').input_ids.shape[1]} tokens, "
          f"{seconds:g} s of audio = {model.generation_config.max_length - 1} steps; {rounds} rounds")

    for name, speaker in speakers.items():
        began = time.perf_counter()
        speaker.warm_up()
        graphs = sum(generator.graphs for generator in speaker.fast)
        print(f"{name}: warm-up {time.perf_counter() - began:.2f} s"
              + (f", {graphs} CUDA graph(s) captured" if speaker.fast else ""))

    results = {name: [] for name in speakers}
    for round_ in range(rounds):
        for name in (("eager", "fast") if round_ % 2 == 0 else ("fast", "eager")):
            torch.manual_seed(round_)
            results[name].append(speak_once(speakers[name]))

    rows = [("steps/s", "steps_per_s", "{:10.0f}"), ("first audio, s", "first_s", "{:10.3f}"),
            ("whole answer, s", "whole_s", "{:10.3f}"), ("audio, s", "audio_s", "{:10.2f}"),
            ("real-time factor", "rtf", "{:10.3f}"), ("chunks", "chunks", "{:10.0f}"),
            ("longest gap between chunks, s", "max_gap_s", "{:10.3f}"),
            ("worst player margin, s", "min_margin_s", "{:10.3f}"),
            ("peak GPU memory, GiB (both copies)", "peak_gib", "{:10.2f}")]
    print(f"\n{'median over rounds':32} {'eager':>10} {'fast':>10}")
    for label, key, fmt in rows:
        values = [statistics.median(r[key] for r in results[name]) for name in speakers]
        print(f"{label:32} " + " ".join(fmt.format(v) for v in values))
    fast = {key: statistics.median(r[key] for r in results["fast"]) for _, key, _ in rows}
    verdict = [f"RTF {'ok' if fast['rtf'] <= 0.3 else 'MISSED'} (<= 0.3)",
               f"first audio {'ok' if fast['first_s'] <= 0.5 else 'MISSED'} (<= 0.5 s)",
               f"player margin {'ok' if fast['min_margin_s'] >= 0 else 'MISSED'} (>= 0)"]
    print("\nfast path vs targets: " + ", ".join(verdict))


if __name__ == "__main__":
    main()
