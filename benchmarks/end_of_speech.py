"""False endings and end-of-speech delay of the hands-free VAD, on real speech with breaths put in.

Each question is spoken in two halves (by the app's Piper voice and by espeak-ng) with a silent breath
between them; the halves are fed to ``oracle.endpointing.Endpointer`` in 32 ms steps with the app's
``Settings.end_of_speech_s``. A false ending is the question ending during the breath (the person would be
cut off); the delay is from the end of the second half's speech (by the same VAD) to the ending.

    .venv/bin/python benchmarks/end_of_speech.py [--breaths 0.2 0.3 0.4 0.5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.audio_tools import SpeechMaker  # noqa: E402
from oracle.audio import SAMPLE_RATE  # noqa: E402
from oracle.config import Settings  # noqa: E402
from oracle.endpointing import WINDOW, Endpointer  # noqa: E402
from oracle.languages import ENGLISH  # noqa: E402

HALVES = [
    ("Should I move to the city,", "or stay in my village?"),
    ("If I study every night,", "will I pass the exam?"),
    ("Is it wise to lend money", "to my oldest friend?"),
    ("Will the weather hold", "for the wedding on Saturday?"),
    ("Should I tell my boss", "that I am leaving?"),
    ("When the spring comes,", "will my garden bloom again?"),
]


def voices(directory: Path):
    """(name, text -> float32 at 16 kHz) for each voice."""
    from oracle.speech.piper import PiperSpeaker

    piper = PiperSpeaker()
    espeak = SpeechMaker(directory)

    def by_piper(text: str) -> np.ndarray:
        samples = np.concatenate(list(piper.stream(text, ENGLISH))).astype(np.float32) / 32768
        return soxr.resample(samples, piper.sample_rate, SAMPLE_RATE).astype(np.float32)

    def by_espeak(text: str) -> np.ndarray:
        samples, rate = soundfile.read(espeak.say(text), dtype="float32")
        return soxr.resample(samples, rate, SAMPLE_RATE).astype(np.float32)

    return [("piper", by_piper), ("espeak-ng", by_espeak)]


def speech_end(audio: np.ndarray) -> int:
    endpointer = Endpointer()
    endpointer.feed(audio)
    return endpointer.speech_end_sample


def first_ending(audio: np.ndarray, end_silence_s: float) -> int | None:
    """The sample at which the question first counts as ended, fed 32 ms at a time."""
    endpointer = Endpointer()
    for start in range(0, audio.size, WINDOW):
        endpointer.feed(audio[start:start + WINDOW])
        if endpointer.ended(end_silence_s):
            return start + WINDOW
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--breaths", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.5])
    args = parser.parse_args()
    end_silence_s = Settings().end_of_speech_s
    lead = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.float32)
    tail = np.zeros(int(2.0 * SAMPLE_RATE), dtype=np.float32)
    spoken = []
    with tempfile.TemporaryDirectory() as directory:
        for name, say in voices(Path(directory)):
            spoken.extend((name, say(first), say(second)) for first, second in HALVES)
    print(f"end of speech after {end_silence_s} s of silence; {len(spoken)} two-part questions "
          f"({len(HALVES)} texts x 2 voices)")
    for breath_s in args.breaths:
        breath = np.zeros(int(breath_s * SAMPLE_RATE), dtype=np.float32)
        false_endings, delays = 0, []
        for _voice, first, second in spoken:
            audio = np.concatenate([lead, first, breath, second, tail])
            ended = first_ending(audio, end_silence_s)
            if ended is not None and ended < speech_end(audio):  # in the breath, or as the second half began
                false_endings += 1
                continue
            true_end = speech_end(audio)
            if ended is not None:
                delays.append((ended - true_end) / SAMPLE_RATE * 1000)
        delay = f"p50 {statistics.median(delays):4.0f} ms, max {max(delays):4.0f} ms" if delays else "-"
        print(f"  breath {breath_s:.1f} s: {false_endings} false endings in {len(spoken)}; "
              f"end of speech -> ended {delay}")


if __name__ == "__main__":
    main()
