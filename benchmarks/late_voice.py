"""A voice slower than the player: does the answer play through without stopping, and end when its audio ends?

On a loaded server, and on the Space where Parler streams clause by clause, the voice's segments reach the
server after the browser's player (hls.js) has read the playlist. This serves the app in this process with the
real embedded oracle whose voice is cut into ``--piece`` s pieces, each handed on ``--gap`` s after the one
before (``--hold`` s more before the voice ends), asks ``--questions`` typed questions in headless Chromium and
prints, per answer and as a median, how long it stalled: the wall time from the player's first sound to its
"ended" event, less the answer's own length (time the person heard nothing in the middle of the answer, or
waited at its end for the page to say "done").

    .venv/bin/python benchmarks/late_voice.py [--questions 6] [--piece 0.5] [--gap 0.3] [--hold 0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import QUESTIONS  # noqa: E402
from harness.browser_tools import find_chromium  # noqa: E402
from harness.live_browser import chromium, open_page, wait_for_stage  # noqa: E402
from harness.server import serve  # noqa: E402

DONE_WAIT_MS = 60_000

# The answer player's first sound and its end, on the page's clock (media events do not bubble: captured).
WATCH_PLAYER = """
window.answerPlayer = {};
for (const name of ['playing', 'ended']) {
  document.addEventListener(name, (event) => {
    if (!event.target.closest || !event.target.closest('#answer-audio')) return;
    window.answerPlayer[name] = window.answerPlayer[name] || performance.timeOrigin + performance.now();
    if (name === 'ended') window.answerPlayer.duration = event.target.duration;
  }, true);
}
"""


class LateVoice:
    """The real voice, its chunks cut into pieces handed on one by one, ``gap`` s apart."""

    def __init__(self, voice, piece_s: float, gap_s: float, hold_s: float):
        self.voice, self.piece_s, self.gap_s, self.hold_s = voice, piece_s, gap_s, hold_s

    def __getattr__(self, name):
        return getattr(self.voice, name)

    def stream(self, text, language):
        piece = max(1, int(self.piece_s * self.voice.sample_rate))
        pieces = [chunk[start:start + piece] for chunk in self.voice.stream(text, language)
                  for start in range(0, len(chunk), piece)]
        for index, samples in enumerate(pieces):
            if index:
                time.sleep(self.gap_s)
            yield samples
        time.sleep(self.hold_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=6)
    parser.add_argument("--piece", type=float, default=0.5, help="seconds of audio per piece")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between two pieces")
    parser.add_argument("--hold", type=float, default=0.0, help="seconds after the last piece before the voice ends")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from oracle.config import Settings
    from oracle.pipeline import Oracle

    oracle = Oracle.from_settings(Settings())
    oracle.speaker = LateVoice(oracle.speaker, args.piece, args.gap, args.hold)
    oracle.warm_up()
    examples = tempfile.TemporaryDirectory(prefix="late-voice-")
    demo, url = serve(oracle, Path(examples.name))
    stalled = []
    try:
        with sync_playwright() as playwright, chromium(playwright, find_chromium(), None) as browser:
            for number in range(args.questions):
                page = open_page(browser, url)
                page.evaluate(WATCH_PLAYER)
                box = page.locator("#question-text textarea")
                box.fill(QUESTIONS[number % len(QUESTIONS)])
                box.press("Enter")
                wait_for_stage(page, "done", DONE_WAIT_MS)
                player = page.evaluate("window.answerPlayer")
                length = player["duration"]
                stalled.append((player["ended"] - player["playing"]) / 1000 - length)
                print(f"answer {number + 1}: {length:.2f} s of audio, stalled {stalled[-1] * 1000:.0f} ms", flush=True)
                page.context.close()
    finally:
        demo.close()
        examples.cleanup()
    print(f"pieces of {args.piece} s every {args.gap} s, voice ending {args.hold} s after the last "
          f"({args.questions} answers): stalled p50 {statistics.median(stalled) * 1000:.0f} ms, "
          f"max {max(stalled) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
