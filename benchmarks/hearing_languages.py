"""Hearing in every supported language with the embedded engine (``LocalWhisper``: tiny.en for English,
Whisper base for the rest): per language, word error (character error of the kana reading for Japanese)
and median time, with the language given and with it detected from the speech (no hint), the detection
accuracy, and what detecting costs on a 3-second question.

The recordings are harness/multilingual_audio.py's (espeak-ng, SVOX Pico, Kokoro), made once into
``~/.cache/magic8ball/test-speech``.

    .venv/bin/python benchmarks/hearing_languages.py [--repeats 3] [--beam N] [LANG ...]

``--beam N`` hears the non-English questions with a beam of N instead of the engine's own (1: greedy);
``CT2_FORCE_CPU_ISA`` picks CTranslate2's kernel as usual.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.multilingual_audio import QUESTIONS, error_rate, samples  # noqa: E402
from oracle.asr.local import LocalWhisper  # noqa: E402
from oracle.languages import SUPPORTED  # noqa: E402


def timed(call, repeats: int):
    """The last result of ``call()`` and its median wall time in ms over ``repeats`` runs."""
    result, wall, _ = timed_cpu(call, repeats)
    return result, wall


def timed_cpu(call, repeats: int):
    """The last result of ``call()``, its median wall time and its median CPU time (all threads of this
    process: steadier than wall time on a busy machine) in ms over ``repeats`` runs."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = call()
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu_started) * 1000)
    return result, statistics.median(walls), statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("languages", nargs="*", default=list(QUESTIONS))
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per recording (median)")
    parser.add_argument("--beam", type=int, default=None,
                        help="beam size for the multilingual model (default: the engine's own, BEAM_SIZE)")
    parser.add_argument("--cost-only", action="store_true", help="only what detecting costs on a 3 s question")
    args = parser.parse_args()

    started = time.perf_counter()
    hearing = LocalWhisper()
    hearing.warm_up(languages=list(SUPPORTED))
    print(f"loaded and warmed both models in {time.perf_counter() - started:.1f} s")
    base = hearing.multilingual
    if args.beam is not None:
        base.beam_sizes = {code: args.beam for code in base.beam_sizes}

    rows = []
    for language in [] if args.cost_only else args.languages:
        given, auto, given_ms, auto_ms = [], [], [], []
        for question in QUESTIONS[language]:
            audio = samples(question)
            heard, ms = timed(lambda: hearing.transcribe(audio, language), args.repeats)
            given.append((question, heard.text))
            given_ms.append(ms)
            heard, ms = timed(lambda: hearing.transcribe(audio), args.repeats)
            auto.append((question, heard))
            auto_ms.append(ms)
        right = [(q, heard.text) for q, heard in auto if heard.language == language]
        wrong = [f"{heard.language}: {heard.text!r}" for q, heard in auto if heard.language != language]
        rows.append((language, len(given), error_rate(given), statistics.median(given_ms),
                     len(right) / len(auto), error_rate([(q, h.text) for q, h in auto]), statistics.median(auto_ms)))
        for line in wrong:
            print(f"  {language} detected as {line}")

    if rows:
        print_table(rows)
    print_costs(hearing, base, max(3, args.repeats))
    return 0


def print_table(rows) -> None:
    print(f"\n{'lang':<5}{'n':>3}{'error (given)':>15}{'ms (given)':>12}{'detected':>10}{'error (auto)':>14}"
          f"{'ms (auto)':>11}")
    for language, n, given_error, given_median, accuracy, auto_error, auto_median in rows:
        print(f"{language:<5}{n:>3}{given_error:>15.3f}{given_median:>12.0f}{accuracy:>10.0%}{auto_error:>14.3f}"
              f"{auto_median:>11.0f}")
    print("error: word error rate (ja: character error rate of the kana reading); ms: median per question; "
          "auto: no language given, no hint")


def print_costs(hearing, base, n: int) -> None:
    """What detecting costs on a 3-second question: the multilingual encoding of its detection window plus
    one decoder step."""
    audio = samples(QUESTIONS["de"][4])
    audio = np.concatenate([audio, np.zeros(max(0, 48_000 - audio.size), dtype=np.float32)])[:48_000]
    speech = base.encode(audio)
    english = samples(QUESTIONS["en"][0])
    english = np.concatenate([english, np.zeros(max(0, 48_000 - english.size), dtype=np.float32)])[:48_000]
    costs = {
        "base: encode 3 s (detection window)": lambda: base.encode(audio),
        "base: language step": lambda: base.detect_language(speech),
        "de given (base)": lambda: hearing.transcribe(audio, "de"),
        "de detected (base)": lambda: hearing.transcribe(audio),
        "en given (tiny.en)": lambda: hearing.transcribe(english, "en"),
        "en detected (base detects, tiny.en hears)": lambda: hearing.transcribe(english),
    }
    print(f"\nwhat detecting costs on a 3 s question (median of {n}):")
    for label, call in costs.items():
        _, wall, cpu = timed_cpu(call, n)
        print(f"  {label:<45}{wall:>8.0f} ms wall{cpu:>8.0f} ms CPU")


if __name__ == "__main__":
    raise SystemExit(main())
