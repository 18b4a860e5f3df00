"""What the spoken examples cost a start-up: recording every language's three examples from nothing (a
machine's first start), and finding them recorded (every later start).

    python -m benchmarks.examples [--repeats 3]

The voices are built and warmed first, as ``app.main()`` has them when it builds the page
(``oracle.examples.voices_held_by``); each round records into a fresh, empty cache. Per language: the
median wall time and CPU time (``time.process_time``, this process) over ``--repeats`` rounds, then the
same for a start that finds every file. Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from oracle.examples import example_questions, spoken_examples, voices_held_by
    from oracle.languages import SUPPORTED
    from oracle.speech.languages import LanguageVoices
    from oracle.speech.piper import PiperSpeaker

    speaker = LanguageVoices(PiperSpeaker(), gpu=False)
    speaker.warm_up()
    held = voices_held_by(speaker)
    timings: dict[str, list[tuple[float, float]]] = {code: [] for code in SUPPORTED}
    found: list[tuple[float, float]] = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            os.environ["XDG_CACHE_HOME"] = cache
            for code in SUPPORTED:  # one language at a time, so each is timed alone
                wall, cpu = time.perf_counter(), time.process_time()
                spoken_examples(Path(cache) / code, held, languages=[code])
                timings[code].append((time.perf_counter() - wall, time.process_time() - cpu))
            wall, cpu = time.perf_counter(), time.process_time()
            spoken_examples(Path(cache) / "again", held)  # every file is in the shared cache by now
            found.append((time.perf_counter() - wall, time.process_time() - cpu))

    print(f"{'language':<9} {'examples':>8} {'wall ms (median)':>17} {'CPU ms (median)':>16}")
    for code, runs in timings.items():
        print(f"{code:<9} {len(example_questions(code)):>8} {_median(runs, 0):>17.0f} {_median(runs, 1):>16.0f}")
    print(f"{'all':<9} {'':>8} {sum(_median(runs, 0) for runs in timings.values()):>17.0f} "
          f"{sum(_median(runs, 1) for runs in timings.values()):>16.0f}")
    print(f"{'found':<9} {'':>8} {_median(found, 0):>17.0f} {_median(found, 1):>16.0f}   (a later start: copied)")


def _median(runs: list[tuple[float, float]], index: int) -> float:
    return statistics.median(run[index] for run in runs) * 1000


if __name__ == "__main__":
    main()
