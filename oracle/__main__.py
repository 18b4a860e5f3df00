"""Command line: ask the oracle without a server.

    python -m oracle ask QUESTION.wav -o answer.wav
    python -m oracle ask --text "Should I ...?" -o answer.wav
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from oracle.audio import wav_bytes
from oracle.config import Settings
from oracle.errors import OracleError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m oracle", description="Ask the Magic 8 Ball oracle.")
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("ask", help="ask one question, spoken (a WAV/MP3/... file) or typed")
    source = ask.add_mutually_exclusive_group(required=True)
    source.add_argument("audio", nargs="?", help="recording of the question")
    source.add_argument("--text", help="the question as text")
    ask.add_argument("-o", "--output", type=Path, help="write the spoken answer to this WAV file")
    ask.add_argument("-v", "--verbose", action="store_true", help="log what the engines do")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from oracle.pipeline import Oracle

    oracle = Oracle.from_settings(Settings.from_env())
    try:
        reply = oracle.ask_text(args.text) if args.text is not None else oracle.ask(args.audio)
        print(f"You asked: {reply.question}")
        print(f"The oracle says: {reply.answer}")
        if args.output:
            args.output.write_bytes(wav_bytes(oracle.speak_all(reply.answer), oracle.sample_rate))
            print(f"Spoken answer: {args.output}")
    except OracleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
