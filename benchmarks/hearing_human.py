"""Hearing real human speech with the embedded engine, the full 30-second Whisper window against the
windows fitted to the question (``oracle.asr.windows``), and what telling the language costs.

The recordings are Debian's Asterisk prompts (``benchmarks/human_speech.py``: one professional speaker per
language, 30 clips of 1-8 s each); English is also heard in pink noise at ``--snr`` dB. Word error is
counted without case, accents or punctuation (the transcripts drop accents). Times are medians per
clip, wall and CPU (``time.process_time``, all threads: steadier than wall on a shared machine).

Sections:

- hearing: per language and configuration, word error, loops caught (heard again in the full window),
  median wall and CPU ms, language given (tiny.en for English, Whisper base for es/fr/it);
- detection: Whisper base telling the language (among ``oracle.languages.SUPPORTED``, no hint) of every
  clip, right/total and median encode + detect ms, in the full window and in the detection window;
- auto: an English question heard with ``language=None`` (and a French browser's hint) against
  ``language="en"``, detection then tiny.en one after the other and side by side on two threads; and a
  Spanish question of about 3 s heard with ``language=None``.

    .venv/bin/python benchmarks/hearing_human.py [--count 30] [--snr 15] [--sections hearing,detection,auto]
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.human_speech import clips  # noqa: E402
from harness.hearing import edit_distance  # noqa: E402
from oracle.asr import multilingual as base_module  # noqa: E402
from oracle.asr.local import ENGLISH_WINDOW, LocalWhisper  # noqa: E402
from oracle.asr.windows import FULL_WINDOW  # noqa: E402

LANGUAGES = ("en", "es", "fr", "it")
SECTIONS = ("hearing", "detection", "auto")


def plain_words(text: str) -> list[str]:
    """Lowercase words without accents or punctuation ("Numéro d'agent." -> numero d agent)."""
    text = text.lower().replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.findall(r"[a-z0-9]+", text)


def word_error_rate(pairs: list[tuple[str, str]]) -> float:
    errors = sum(edit_distance(plain_words(said), plain_words(heard)) for said, heard in pairs)
    return errors / sum(len(plain_words(said)) for said, _ in pairs)


def pink_noise(size: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise whose power falls 3 dB an octave (1/f), like a room's hum and hiss together."""
    spectrum = np.fft.rfft(rng.standard_normal(size))
    frequencies = np.fft.rfftfreq(size)
    frequencies[0] = frequencies[1]
    noise = np.fft.irfft(spectrum / np.sqrt(frequencies), size)
    return noise / np.sqrt(np.mean(noise ** 2))


def with_noise(audio: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    speech_rms = np.sqrt(np.mean(audio ** 2))
    noise = pink_noise(audio.size, np.random.default_rng(seed)) * speech_rms / 10 ** (snr_db / 20)
    return (audio + noise).astype(np.float32)


# Clips whose transcript is another prompt's: fr "pls-hold-while-try" says "Veuillez demeurer en ligne pendant
# que j'essaie de localiser la personne que vous désirez joindre", its transcript "Veuillez patienter pendant
# que l'on achemine votre appel" (15 of the set's ~240 words). Word error is printed with and without them.
WRONG_TRANSCRIPTS = {"fr": {"pls-hold-while-try"}}


def recordings(language: str, count: int, snr_db: float | None = None) -> list[tuple[str, str, np.ndarray]]:
    """(name, transcript, samples) of ``count`` clips, in pink noise at ``snr_db`` if given."""
    found = []
    for index, clip in enumerate(clips(language, count)):
        audio, _ = soundfile.read(str(clip.path), dtype="float32")
        found.append((clip.name, clip.text, audio if snr_db is None else with_noise(audio, snr_db, index)))
    return found


def timed(call):
    started, cpu_started = time.perf_counter(), time.process_time()
    result = call()
    return result, (time.perf_counter() - started) * 1000, (time.process_time() - cpu_started) * 1000


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


class FallbackCounter(logging.Handler):
    """Counts the 'heard again with the full window' log lines: the loops the fitted window caught."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def emit(self, record):
        if "heard again with the full window" in record.getMessage():
            self.count += 1


def hear_set(hear, set_, counter: FallbackCounter, language: str) -> dict:
    counter.count = 0
    pairs, kept, walls, cpus = [], [], [], []
    for name, said, audio in set_:
        heard, wall, cpu = timed(lambda: hear(audio))
        pairs.append((said, heard.text))
        if name not in WRONG_TRANSCRIPTS.get(language, ()):
            kept.append((said, heard.text))
        walls.append(wall)
        cpus.append(cpu)
    return {"wer": word_error_rate(pairs), "kept_wer": word_error_rate(kept), "kept": len(kept),
            "wall": median(walls), "cpu": median(cpus), "loops": counter.count, "n": len(pairs)}


def row(label: str, result: dict) -> None:
    kept = "" if result["kept"] == result["n"] else \
        f" ({100 * result['kept_wer']:.1f} % on the {result['kept']} with the right transcript)"
    print(f"  {label:44} WER {100 * result['wer']:5.1f} %{kept}   wall {result['wall']:6.0f} ms   "
          f"CPU {result['cpu']:6.0f} ms   loops caught {result['loops']}/{result['n']}", flush=True)


def configurations(chosen_window, chosen_beam: int) -> list[tuple[str, object, int]]:
    """What the chosen window and beam are weighed against: the 30 s window greedy (as before), the 30 s
    window with the beam, and the chosen window greedy."""
    return [("30 s window, greedy (before)", FULL_WINDOW, 1),
            (f"30 s window, beam {chosen_beam}", FULL_WINDOW, chosen_beam),
            (f"{chosen_window}, greedy", chosen_window, 1),
            (f"chosen: {chosen_window}, beam {chosen_beam}", chosen_window, chosen_beam)]


def hearing_section(hearing: LocalWhisper, args, counter: FallbackCounter) -> None:
    print("hearing (language given): word error, median wall and CPU per clip")
    english, english_beam = hearing._english, hearing.english_beam_size
    if "en" in args.languages:
        for noisy in (False, True):
            set_ = recordings("en", args.count, args.snr if noisy else None)
            print(f" en{f' + pink noise {args.snr:g} dB' if noisy else ''} (tiny.en)")
            for name, window, beam in configurations(ENGLISH_WINDOW, english_beam):
                english.window, hearing.english_beam_size = window, beam
                row(name, hear_set(lambda audio: hearing.transcribe(audio, "en"), set_, counter, "en"))
            english.window, hearing.english_beam_size = ENGLISH_WINDOW, english_beam
    base = hearing.multilingual
    chosen_window, chosen_beams = base.windows.window, dict(base.beam_sizes)
    for language in [code for code in args.languages if code != "en"]:
        set_ = recordings(language, args.count)
        print(f" {language} (Whisper base)")
        for name, window, beam in configurations(chosen_window, chosen_beams[language]):
            base.windows.window, base.beam_sizes[language] = window, beam
            row(name, hear_set(lambda audio: base.transcribe(audio, language), set_, counter, language))
        base.windows.window, base.beam_sizes[language] = chosen_window, chosen_beams[language]


def detection_section(hearing: LocalWhisper, args) -> None:
    print("detection (Whisper base, no hint, among the supported languages): right, median encode + detect")
    base = hearing.multilingual
    sets = {language: recordings(language, args.count) for language in args.languages}
    for name, window in (("30 s window", FULL_WINDOW), (f"chosen: {base_module.DETECTION_WINDOW}",
                                                        base_module.DETECTION_WINDOW)):
        right, total, walls, cpus, wrong = 0, 0, [], [], []
        for language, set_ in sets.items():
            for _name, _said, audio in set_:
                detected, wall, cpu = timed(lambda: base.detect_language(base.encode(audio, window)))
                right += detected.language == language
                total += 1
                walls.append(wall)
                cpus.append(cpu)
                if detected.language != language:
                    wrong.append(f"{language}->{detected.language}")
        print(f"  {name:44} right {right}/{total}   wall {median(walls):6.0f} ms   CPU {median(cpus):6.0f} ms"
              f"   {' '.join(wrong)}", flush=True)


def auto_section(hearing: LocalWhisper, args) -> None:
    """Each clip heard ``--repeats`` times each way, the ways taking turns (so that a busy spell of the machine
    falls on all of them); per way, the median over clips of each clip's median; the cost of telling the
    language is the median over clips of (auto - given)."""
    print(f"auto (language=None) against the language given: median wall and CPU per clip ({args.repeats} "
          "rounds, ways taking turns)")
    english = recordings("en", args.count)
    spanish = [clip for clip in recordings("es", args.count) if 2.5 <= clip[2].size / 16_000 <= 3.5]

    chosen = hearing.hear_english_while_detecting

    def auto(together: bool):
        def hear(audio, hint):
            hearing.hear_english_while_detecting = together
            try:
                return hearing.transcribe(audio, None, hint)
            finally:
                hearing.hear_english_while_detecting = chosen
        return hear

    one_after_the_other, side_by_side = auto(False), auto(True)

    def compare(title, language, hint, set_, ways):
        walls = {name: [] for name in ways}
        cpus = {name: [] for name in ways}
        right = {name: 0 for name in ways}
        for _name, _said, audio in set_:
            per_clip = {name: ([], []) for name in ways}
            for round_ in range(args.repeats):
                order = list(ways)[round_ % len(ways):] + list(ways)[:round_ % len(ways)]
                for name in order:
                    heard, wall, cpu = timed(lambda: ways[name](audio, hint))
                    per_clip[name][0].append(wall)
                    per_clip[name][1].append(cpu)
                    right[name] += heard.language == language
            for name in ways:
                walls[name].append(median(per_clip[name][0]))
                cpus[name].append(median(per_clip[name][1]))
        print(f" {title} ({len(set_)} clips)")
        given = next(iter(ways))
        for name in ways:
            extra = "" if name == given else (
                f"   over given: wall +{median([a - b for a, b in zip(walls[name], walls[given])]):.0f} ms, "
                f"CPU +{median([a - b for a, b in zip(cpus[name], cpus[given])]):.0f} ms")
            print(f"  {name:46} wall {median(walls[name]):5.0f} ms   CPU {median(cpus[name]):5.0f} ms   "
                  f"heard as {language}: {right[name]}/{len(set_) * args.repeats}{extra}", flush=True)

    compare("English question, French browser (hint fr)", "en", "fr", english, {
        'given: language="en" (tiny.en)': lambda audio, hint: hearing.transcribe(audio, "en"),
        "auto: detect, then tiny.en": one_after_the_other,
        "auto: detect and tiny.en on two threads": side_by_side,
    })
    compare("Spanish question of 2.5-3.5 s, English browser (hint en)", "es", "en", spanish, {
        'given: language="es"': lambda audio, hint: hearing.transcribe(audio, "es"),
        "auto: detect, then base": one_after_the_other,
        "auto: detect and tiny.en on two threads, then base": side_by_side,
    })


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--count", type=int, default=30, help="clips per language (default 30)")
    parser.add_argument("--snr", type=float, default=15.0, help="speech-to-noise ratio of noisy English, dB")
    parser.add_argument("--languages", default=",".join(LANGUAGES), help="comma-separated, of en,es,fr,it")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated, of " + ",".join(SECTIONS))
    parser.add_argument("--repeats", type=int, default=3, help="rounds per clip in the auto section")
    args = parser.parse_args()
    args.languages = [code for code in args.languages.split(",") if code]
    sections = [name for name in args.sections.split(",") if name]
    counter = FallbackCounter()
    for name in ("oracle.asr.local", "oracle.asr.multilingual"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(counter)
    hearing = LocalWhisper()
    hearing.warm_up([None])
    if "hearing" in sections:
        hearing_section(hearing, args, counter)
    if "detection" in sections:
        detection_section(hearing, args)
    if "auto" in sections:
        auto_section(hearing, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
