"""Every language's embedded voice: time to first chunk, real-time factor, and how well Whisper reads it back.

    python -m benchmarks.voices [--repeats 3]

Each language speaks its answer through ``LanguageVoices`` (as the pipeline will), the first time after the
voice is built and warmed. Per language: the median time to the first chunk and real-time factor (time to
speak it all / its length) over ``--repeats`` answers, and the character error rate of what multilingual
Whisper base (int8, language given) hears in the whole answer. Whisper's own errors count too: the rate is
an upper bound on the voice's. Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from harness.read_back import ANSWERS, character_error_rate, hear, whisper_base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--languages", default=",".join(ANSWERS))
    args = parser.parse_args()

    from oracle.speech.languages import LanguageVoices
    from oracle.speech.piper import PiperSpeaker

    voices = LanguageVoices(PiperSpeaker(), gpu=False)
    rate = voices.sample_rate
    rows = []
    whisper = whisper_base()
    for language in args.languages.split(","):
        text = ANSWERS[language]
        started = time.perf_counter()
        voices.warm_up([language])
        build_s = time.perf_counter() - started
        firsts, factors, audio = [], [], None
        for _ in range(args.repeats):
            started = time.perf_counter()
            chunks, first = [], None
            for chunk in voices.stream(text, language):
                first = first if first is not None else time.perf_counter() - started
                chunks.append(chunk)
            elapsed = time.perf_counter() - started
            audio = np.concatenate(chunks)
            firsts.append(first)
            factors.append(elapsed / (len(audio) / rate))
        heard = hear(whisper, audio, rate, language)
        rows.append((language, voices.voice_name(language), voices.robotic(language), build_s,
                     statistics.median(firsts), statistics.median(factors), len(audio) / rate,
                     character_error_rate(text, heard), heard))

    print(f"{'lang':4} {'voice':20} {'robotic':7} {'load+warm s':>11} {'first chunk ms':>14} {'RTF':>6} "
          f"{'audio s':>7} {'CER':>6}  heard")
    for language, name, robotic, build_s, first, factor, seconds, cer, heard in rows:
        print(f"{language:4} {name:20} {str(robotic):7} {build_s:11.2f} {first * 1000:14.0f} {factor:6.3f} "
              f"{seconds:7.2f} {cer:6.1%}  {heard}")


if __name__ == "__main__":
    main()
