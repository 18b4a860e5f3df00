"""Real human speech with transcripts, for the hearing benchmarks: Debian's Asterisk sound packages.

``asterisk-core-sounds-<lang>`` holds the transcripts (``core-sounds-<lang>.txt.gz``: ``name: words``) and
``asterisk-core-sounds-<lang>-g722`` the recordings of one professional speaker per language (en-US, es-MX,
fr-CA, it-IT, ru-RU). They are fetched with ``apt-get download`` and unpacked with ``dpkg-deb -x`` into
``~/.cache/magic8ball/human-speech/`` (nothing is installed), decoded once to 16 kHz mono WAV, and kept out
of the repository. Their transcripts drop accents ("numero"): compare without diacritics.

    .venv/bin/python -m benchmarks.human_speech es fr   # fetch, decode and list what a benchmark would use
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import soundfile

LANGUAGES = ("en", "es", "fr", "it", "ru")
SAMPLE_RATE = 16_000
TIMEOUT_S = 300


@dataclass(frozen=True)
class Clip:
    name: str
    path: Path  # 16 kHz mono WAV
    text: str
    seconds: float


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "magic8ball" / "human-speech"


def _unpacked(language: str) -> Path:
    """The packages of ``language``, downloaded and unpacked once."""
    root = cache_dir() / "debian" / language
    marker = root / ".unpacked"
    if marker.exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    packages = [f"asterisk-core-sounds-{language}", f"asterisk-core-sounds-{language}-g722"]
    subprocess.run(["apt-get", "download", "-q", *packages], cwd=root, check=True, timeout=TIMEOUT_S,
                   capture_output=True)
    for deb in root.glob("*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root / "files")], check=True, timeout=TIMEOUT_S)
        deb.unlink()
    marker.touch()
    return root


def _transcripts(root: Path, language: str) -> dict[str, str]:
    [listing] = (root / "files" / "usr" / "share" / "doc").glob(f"asterisk-core-sounds-{language}/core-sounds-*.txt.gz")
    entries = {}
    for line in gzip.open(listing, "rt", encoding="utf-8", errors="replace"):
        if line.startswith(";") or ":" not in line:
            continue
        name, text = line.split(":", 1)
        text = re.sub(r"\[[^]]*\]|<[^>]*>", " ", text).strip()  # stage directions like [pause]
        if name.strip() and re.search(r"\w", text):
            entries[name.strip()] = " ".join(text.split())
    return entries


def clips(language: str, count: int = 30, min_s: float = 1.0, max_s: float = 8.0) -> list[Clip]:
    """``count`` recordings of ``language`` lasting ``min_s``–``max_s`` with a transcript of several words,
    spread evenly over the (sorted) set, so every run and every benchmark uses the same ones."""
    root = _unpacked(language)
    transcripts = _transcripts(root, language)
    sounds = root / "files" / "usr" / "share" / "asterisk" / "sounds"
    wavs = cache_dir() / "wav" / language
    wavs.mkdir(parents=True, exist_ok=True)
    candidates = []
    for name, text in sorted(transcripts.items()):
        if len(text.split()) < 3 or re.search(r"\d", text):
            continue
        found = sorted(sounds.rglob(f"{name}.g722"))
        if not found:
            continue
        wav = wavs / (name.replace("/", "_") + ".wav")
        if not wav.exists():
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "g722",
                            "-i", str(found[0]), "-ac", "1", "-ar", str(SAMPLE_RATE), str(wav)],
                           check=True, timeout=TIMEOUT_S)
        seconds = soundfile.info(str(wav)).duration
        if min_s <= seconds <= max_s:
            candidates.append(Clip(name, wav, text, seconds))
    if len(candidates) <= count:
        return candidates
    step = len(candidates) / count
    return [candidates[int(i * step)] for i in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("languages", nargs="*", default=list(LANGUAGES))
    parser.add_argument("--count", type=int, default=30)
    args = parser.parse_args()
    for language in args.languages:
        found = clips(language, args.count)
        total = sum(clip.seconds for clip in found)
        print(f"{language}: {len(found)} clips, {total:.0f} s, e.g. {found[0].name}: {found[0].text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
