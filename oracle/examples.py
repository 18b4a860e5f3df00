"""Example questions for the UI, spoken by the embedded Piper voice the first time the app starts."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from oracle.audio import wav_bytes

EXAMPLE_QUESTIONS = (
    "Should I take the new job?",
    "Will I find love this year?",
    "Is it a good time to buy a house?",
)

log = logging.getLogger(__name__)


def spoken_examples(directory: Path) -> list[str]:
    """WAV files of the example questions, made once and then reused."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"example-{i + 1}.wav" for i in range(len(EXAMPLE_QUESTIONS))]
    if all(path.is_file() and path.stat().st_size > 0 for path in paths):
        return [str(path) for path in paths]
    from oracle.speech.piper import PiperSpeaker

    speaker = PiperSpeaker()
    for path, question in zip(paths, EXAMPLE_QUESTIONS):
        path.write_bytes(wav_bytes(np.concatenate(list(speaker.stream(question))), speaker.sample_rate))
    log.info("spoken example questions written to %s", directory)
    return [str(path) for path in paths]
