"""Per-chunk cost of streamer.ParlerStreamer against parler_tts.streamer.ParlerTTSStreamer.

Both stream the same answer (same tiny random Parler-TTS model, text, seed and codes: special tokens are
suppressed so the answer is about ``--chunks`` chunks long) with the same chunk size (ours is given
``first_chunk_s = chunk_s``; its first chunk leaves after that many steps, as parler's does, and its next
two grow to the full size). Every ``put()`` and ``end()`` call that generate() makes into a streamer is
timed; calls that decoded audio are the per-chunk cost, the others the per-step bookkeeping; the
generation steps before the first chunk are counted. After one untimed warm-up answer each, rounds
alternate the two streamers; medians are printed.

    .venv/bin/python benchmarks/streamer.py                 # tiny Encodec codec, 20 chunks of 0.5 s
    .venv/bin/python benchmarks/streamer.py --codec dac     # Jenny's codec size (44.1 kHz DAC, slow on CPU)
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

logging.getLogger("parler_tts.modeling_parler_tts").setLevel(logging.ERROR)

from harness.parler_tiny import CODEBOOK_SIZE, NUM_CODEBOOKS, build_tiny_parler  # noqa: E402
from streamer import ParlerStreamer  # noqa: E402

TEXT = "Still waters run deep, and the patient fisher eats."
DESCRIPTION = "Jenny speaks at an average pace with an animated delivery."
TIMEOUT_S = 120.0


class CallTimer:
    """Times a streamer's put()/end() calls and notes which of them decoded audio."""

    def __init__(self, streamer, decode_name: str):
        self.chunk_costs: list[float] = []
        self.step_costs: list[float] = []
        self.puts = 0
        self.steps_before_first_chunk: int | None = None  # puts after the start column's
        self._decoded = False
        decode = getattr(streamer, decode_name)

        def counted_decode(*args, **kwargs):
            self._decoded = True
            return decode(*args, **kwargs)

        setattr(streamer, decode_name, counted_decode)
        for name in ("put", "end"):
            setattr(streamer, name, self._timed(getattr(streamer, name)))

    def _timed(self, method):
        def timed(*args, **kwargs):
            self._decoded = False
            began = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent = time.perf_counter() - began
                (self.chunk_costs if self._decoded else self.step_costs).append(spent)
                if method.__name__ == "put":
                    self.puts += 1
                    if self._decoded and self.steps_before_first_chunk is None:
                        self.steps_before_first_chunk = self.puts - 1

        return timed


def run_ours(model, inputs, chunk_s):
    streamer = ParlerStreamer(model, first_chunk_s=chunk_s, chunk_s=chunk_s, timeout_s=TIMEOUT_S)
    timer = CallTimer(streamer, "decode")
    began = time.perf_counter()
    first = None
    chunks = []
    for chunk in streamer.stream(**inputs):
        first = first or time.perf_counter() - began
        chunks.append(chunk)
    return timer, chunks, first, time.perf_counter() - began


def run_parlers(model, inputs, chunk_frames):
    from parler_tts import ParlerTTSStreamer

    streamer = ParlerTTSStreamer(model, device="cpu", play_steps=chunk_frames, timeout=TIMEOUT_S)
    timer = CallTimer(streamer, "apply_delay_pattern_mask")
    thread = threading.Thread(target=model.generate, kwargs=dict(inputs, streamer=streamer), daemon=True)
    began = time.perf_counter()
    thread.start()
    first = None
    chunks = []
    for chunk in streamer:
        first = first or time.perf_counter() - began
        chunks.append(chunk)
    thread.join(TIMEOUT_S)
    return timer, chunks, first, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--chunk-s", type=float, default=0.5, help="seconds of audio per chunk (both streamers)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--codec", choices=["encodec", "dac"], default="encodec")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        from parler_tts import ParlerTTSForConditionalGeneration
        from transformers import AutoTokenizer

        directory = build_tiny_parler(Path(tmp) / "tiny", codec=args.codec)
        model = ParlerTTSForConditionalGeneration.from_pretrained(directory).eval()
        tokenizer = AutoTokenizer.from_pretrained(directory)

    probe = ParlerStreamer(model, first_chunk_s=args.chunk_s, chunk_s=args.chunk_s)
    chunk_frames = probe.chunk_frames
    frames = args.chunks * chunk_frames
    steps = frames + NUM_CODEBOOKS - 1
    description, prompt = tokenizer(DESCRIPTION, return_tensors="pt"), tokenizer(TEXT, return_tensors="pt")
    inputs = dict(
        input_ids=description.input_ids, attention_mask=description.attention_mask,
        prompt_input_ids=prompt.input_ids, prompt_attention_mask=prompt.attention_mask,
        max_new_tokens=steps, min_new_tokens=steps, suppress_tokens=[CODEBOOK_SIZE, CODEBOOK_SIZE + 1],
    )
    print(
        f"codec {args.codec}: {probe.sampling_rate} Hz, hop {probe.hop_length}, {NUM_CODEBOOKS} codebooks; "
        f"answer {frames} frames = {frames * probe.hop_length / probe.sampling_rate:.1f} s in {args.chunks} chunks "
        f"of {chunk_frames} frames; ours decodes +{probe.left_context}/{probe.lookahead} context frames; "
        f"torch threads {args.threads}; {args.rounds} rounds"
    )

    # Warm-up, untimed: the first generate() and codec decode of a process pay one-time costs.
    warm = dict(inputs, max_new_tokens=chunk_frames + 2 * NUM_CODEBOOKS, min_new_tokens=chunk_frames + 2 * NUM_CODEBOOKS)
    run_ours(model, warm, args.chunk_s)
    run_parlers(model, warm, chunk_frames)

    results = {"ours": [], "parler": []}
    for round_ in range(args.rounds):
        order = ["ours", "parler"] if round_ % 2 == 0 else ["parler", "ours"]
        for name in order:
            torch.manual_seed(round_)
            if name == "ours":
                results[name].append(run_ours(model, inputs, args.chunk_s))
            else:
                results[name].append(run_parlers(model, inputs, chunk_frames))

    def per_chunk(name):
        timers = [r[0] for r in results[name]]
        n = min(len(t.chunk_costs) for t in timers)
        return [statistics.median(t.chunk_costs[i] for t in timers) for i in range(n)]

    ours, theirs = per_chunk("ours"), per_chunk("parler")
    print("\nper-chunk cost, ms (median over rounds; 'end' is the flush when generation stops)")
    print(f"{'chunk':>6} {'ours':>9} {'parler':>9}")
    for i in range(max(len(ours), len(theirs))):
        label = str(i + 1)
        a = f"{ours[i] * 1e3:9.1f}" if i < len(ours) else f"{'':>9}"
        b = f"{theirs[i] * 1e3:9.1f}" if i < len(theirs) else f"{'':>9}"
        print(f"{label:>6} {a} {b}")

    def summary(name):
        runs = results[name]
        audio_s = [sum(c.size for c in r[1]) / probe.sampling_rate for r in runs]
        return dict(
            chunks=statistics.median(len(r[1]) for r in runs),
            chunk_ms=statistics.median([c for r in runs for c in r[0].chunk_costs]) * 1e3,
            last_ms=statistics.median(r[0].chunk_costs[-1] for r in runs) * 1e3,
            decode_total_s=statistics.median(sum(r[0].chunk_costs) for r in runs),
            step_us=statistics.median([c for r in runs for c in r[0].step_costs]) * 1e6,
            first_steps=statistics.median(r[0].steps_before_first_chunk or 0 for r in runs),
            first_s=statistics.median(r[2] for r in runs),
            wall_s=statistics.median(r[3] for r in runs),
            audio_s=statistics.median(audio_s),
        )

    a, b = summary("ours"), summary("parler")
    print(f"\n{'':32} {'ours':>10} {'parler':>10}")
    rows = [
        ("chunks yielded", "chunks", "{:10.0f}"),
        ("audio, s", "audio_s", "{:10.2f}"),
        ("median per-chunk cost, ms", "chunk_ms", "{:10.1f}"),
        ("cost of the last chunk, ms", "last_ms", "{:10.1f}"),
        ("all chunk decoding, s", "decode_total_s", "{:10.2f}"),
        ("median per-step bookkeeping, us", "step_us", "{:10.0f}"),
        ("generation steps before chunk 1", "first_steps", "{:10.0f}"),
        ("time to first chunk, s", "first_s", "{:10.2f}"),
        ("whole answer, s", "wall_s", "{:10.2f}"),
    ]
    for label, key, fmt in rows:
        print(f"{label:32} {fmt.format(a[key])} {fmt.format(b[key])}")
    print(
        f"\nratio parler/ours for a {args.chunks}-chunk answer: median per-chunk cost "
        f"{b['chunk_ms'] / a['chunk_ms']:.1f}x, last chunk {b['last_ms'] / a['last_ms']:.1f}x, "
        f"all decoding {b['decode_total_s'] / a['decode_total_s']:.1f}x"
    )


if __name__ == "__main__":
    main()
