"""Judging what Whisper heard in a way that holds on any CPU.

Whisper tiny.en runs int8 (CTranslate2), and its int8 kernels differ between CPUs: on one machine a
borderline phrase is heard "Is it a good idea to buy a house this year?", on another "I'm going to be
here to buy a house this year." So the tests use only recordings heard with margin, and judge them by
word overlap or by the word error rate over a set, never by the exact words of one phrase.

"With margin" was checked, not assumed: every recording below (but one, see ``CLEAR_QUESTION``) is heard word
for word on a 2-core AMD EPYC (AVX2, no AVX-512) under each of CTranslate2's CPU kernels
(``CT2_FORCE_CPU_ISA`` = GENERIC, AVX, AVX2; AVX512 is refused there: "The CPU does not support AVX512"),
under oneDNN held to SSE4.1, AVX or AVX2 (``ONEDNN_MAX_CPU_ISA``) and with 1 to 16 threads; its phrase is also
heard in other voices or speeds.
``python -m harness.hearing`` repeats the kernel check (one process per kernel, about a minute), prints
what each kernel misheard and fails if two kernels hear a recording differently; run it before adding a
recording or a phrase.

That check cannot reach what an AVX-512 machine runs: ``CT2_FORCE_CPU_ISA`` picks CTranslate2's own
kernels, while the int8 matrix products go through oneDNN on AMD (Intel MKL on Intel), which picks its
own instructions from the CPU and can only be held below what the CPU has. An AVX-512 AMD EPYC heard the
hour-long 16 kb/s MP3 of ``CLEAR_QUESTION`` as "We like pass, high driving, test." where every kernel
above hears "We like pass my driving test.". So a recording a test changes (re-encoded, resampled, cut,
padded, NaN-sprinkled) is judged by its key words only (``assert_heard_gist``), and the clear recordings
by the share of their words heard (``assert_heard``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from oracle.languages import ENGLISH

CPU_KERNELS = ("GENERIC", "AVX", "AVX2", "AVX512")


class SpokenQuestion(NamedTuple):
    """A question as espeak-ng says it: ``speech.say(*question)`` makes the recording."""

    text: str
    voice: str = "en-us"
    speed: int = 150


# The question most tests ask aloud: heard word for word on every kernel here, and through every conversion
# the fault tests apply (8 kHz stereo, 48 kHz int32, MP3, WebM/Opus, NaN and Inf samples), except at
# 16 kb/s: "We like past my driving test." on every kernel here ("We like pass my driving test." once padded to
# an hour; "We like pass, high driving, test." on an AVX-512 machine). "Should I learn to play the piano?"
# is not clear enough: at 8 kHz it is heard "So now I learned to play in the piano.", with NaN samples
# "Should I learn to play Mapiano?".
CLEAR_QUESTION = SpokenQuestion("Will I pass my driving test?", "en-us", 150)

# Several voices and speeds of espeak-ng; the Piper voice's recordings are made by the tests, and differ on
# each run (one run's "Will I find love this year?" was heard "Well, I find love this year.").
HEARING_SET = (
    SpokenQuestion("Will I be happy in my new city?", "en-us", 150),
    SpokenQuestion("Will I be happy in my new city?", "en-gb", 120),
    SpokenQuestion("Will I pass my driving test?", "en-us", 180),
    SpokenQuestion("Will I pass my driving test?", "en-us+f3", 150),
    SpokenQuestion("Should I take the new job?", "en-gb", 150),
    SpokenQuestion("Will my garden grow this summer?", "en-us", 150),
    SpokenQuestion("Will my team win the match on Sunday?", "en-gb-x-rp", 140),
    SpokenQuestion("Should I learn to play the piano?", "en-gb-x-rp", 140),
    CLEAR_QUESTION,
)
PIPER_HEARING_SET = (
    "Should I take the new job offer?",
    "Is it a good idea to buy a house this year?",
    "Will I find love this year?",
)


# The recording re-encoded as the fault tests do: label -> (suffix, ffmpeg arguments).
CONVERSIONS = {
    "8 kHz stereo": (".wav", "-ar", "8000", "-ac", "2"),
    "48 kHz int32": (".wav", "-ar", "48000", "-c:a", "pcm_s32le"),
    "MP3": (".mp3", "-ar", "44100"),
    "MP3 at 16 kb/s": (".mp3", "-ar", "16000", "-c:a", "libmp3lame", "-b:a", "16k"),
    "WebM/Opus": (".webm", "-c:a", "libopus"),
}


def with_nan_and_inf(samples):
    """A copy of float ``samples`` with NaN, +Inf and -Inf sprinkled through it."""
    samples = samples.copy()
    samples[::50] = float("nan")
    samples[1::97] = float("inf")
    samples[2::89] = float("-inf")
    return samples


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def overlap(said: str, heard: str) -> float:
    """The share of the words said that were heard (in any order)."""
    said_words = set(words(said))
    return len(said_words & set(words(heard))) / len(said_words)


def edit_distance(reference: list, hypothesis: list) -> int:
    """Substitutions, insertions and deletions between two sequences (of words, or of characters)."""
    row = list(range(len(hypothesis) + 1))
    for i, ref_unit in enumerate(reference, 1):
        diagonal, row[0] = row[0], i
        for j, hyp_unit in enumerate(hypothesis, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ref_unit != hyp_unit))
    return row[-1]


def word_errors(said: str, heard: str) -> int:
    """Word-level edit distance: substitutions, insertions and deletions."""
    return edit_distance(words(said), words(heard))


def word_error_rate(pairs: list[tuple[str, str]]) -> float:
    """Word error rate over a set of (said, heard) pairs: all errors over all words said."""
    return sum(word_errors(said, heard) for said, heard in pairs) / sum(len(words(said)) for said, _ in pairs)


def assert_heard(heard: str, said: str, at_least: float = 0.7) -> None:
    """``heard`` holds most of the words of ``said``: for recordings in this module, heard with margin."""
    assert overlap(said, heard) >= at_least, f"said {said!r}, heard {heard!r}"


# Words nearly every question holds: hearing them tells nothing of which question was asked.
FUNCTION_WORDS = frozenset(
    "a an and are am be can could did do does for he her his i i'm in is it it's me my no not of on or our she "
    "should so that the their them they this to was we were what when where which who why will with would you "
    "your".split())


def key_words(text: str) -> set[str]:
    """The words of ``text`` that tell one question from another."""
    return set(words(text)) - FUNCTION_WORDS


def assert_heard_gist(heard: str, said: str, at_least: float = 0.6) -> None:
    """``heard`` holds most of the key words of ``said``, whatever became of the small words around them.

    For every recording a test changes (re-encoded, resampled, cut, squeezed, NaN-sprinkled): there the
    small words go differently on different CPU kernels. The hour-long 16 kb/s MP3 of ``CLEAR_QUESTION`` is
    heard "We like pass my driving test." here and "We like pass, high driving, test." on an AVX-512
    machine: both hold the gist, and a recording of another question (even "Will I pass my exam?") does not."""
    said_keys = key_words(said)
    assert said_keys, f"{said!r} has no key words to judge by"
    share = len(said_keys & key_words(heard)) / len(said_keys)
    assert share >= at_least, f"said {said!r}, heard {heard!r} ({share:.0%} of {sorted(said_keys)})"


def _recordings(directory) -> dict[str, "object"]:
    """label -> recording path: the hearing set, the Piper set, and the clear question converted."""
    from pathlib import Path

    import numpy as np
    import soundfile

    from harness.audio_tools import SpeechMaker
    from oracle.audio import wav_bytes
    from oracle.speech.piper import PiperSpeaker

    speech = SpeechMaker(Path(directory))
    found = {f"{q.text} ({q.voice}, {q.speed})": speech.say(*q) for q in HEARING_SET}
    piper = PiperSpeaker()
    for text in PIPER_HEARING_SET:
        path = Path(directory) / f"piper-{len(found)}.wav"
        # Made once, by the first kernel's process: Piper speaks differently each time (its VITS model samples
        # noise), and every kernel must hear the same recording.
        if not path.exists():
            path.write_bytes(wav_bytes(np.concatenate(list(piper.stream(text, ENGLISH))), piper.sample_rate))
        found[f"{text} (piper)"] = path
    clear = speech.say(*CLEAR_QUESTION)
    for label, args in CONVERSIONS.items():
        found[f"{CLEAR_QUESTION.text} ({label})"] = speech.convert(clear, *args)
    samples, rate = soundfile.read(clear, dtype="float32")
    found[f"{CLEAR_QUESTION.text} (NaN and Inf)"] = speech.write("nan-inf.wav", with_nan_and_inf(samples), rate,
                                                                 subtype="FLOAT")
    return found


def _hear_all(directory: str) -> dict[str, str]:
    from oracle.audio import load_question
    from oracle.asr.local import LocalWhisper

    whisper = LocalWhisper()
    heard = {}
    for label, path in _recordings(directory).items():
        heard[label] = whisper.transcribe(load_question(str(path))).text
    return heard


def main() -> int:
    """Hear every recording above under each CPU kernel (one process each), print what was misheard,
    and fail if two kernels hear any recording differently."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    if len(sys.argv) == 3 and sys.argv[1] == "--hear":
        print(json.dumps(_hear_all(sys.argv[2])))
        return 0
    by_kernel: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as directory:
        for kernel in CPU_KERNELS:
            child = subprocess.run([sys.executable, "-m", "harness.hearing", "--hear", directory], text=True,
                                   capture_output=True, timeout=600, env={**os.environ, "CT2_FORCE_CPU_ISA": kernel})
            if child.returncode != 0:
                print(f"{kernel}: not run on this CPU ({child.stderr.strip().splitlines()[-1:]})")
                continue
            heard = by_kernel[kernel] = json.loads(child.stdout.strip().splitlines()[-1])
            pairs = [(label.rsplit(" (", 1)[0], text) for label, text in heard.items()]
            print(f"{kernel}: word error rate {word_error_rate(pairs):.3f} over {len(pairs)} recordings")
            for (said, text), label in zip(pairs, heard):
                if word_errors(said, text):
                    print(f"  {label}: heard {text!r}")
    disagreements = [label for label in next(iter(by_kernel.values()), {})
                     if len({tuple(words(heard[label])) for heard in by_kernel.values()}) > 1]
    for label in disagreements:
        print(f"kernels disagree on {label}: " + "; ".join(f"{k} {h[label]!r}" for k, h in by_kernel.items()))
    return 1 if disagreements else 0


if __name__ == "__main__":
    raise SystemExit(main())
