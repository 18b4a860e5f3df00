"""Command line: ask the oracle without a server.

    python -m oracle ask QUESTION.wav -o answer.wav
    python -m oracle ask --text "Should I ...?" -o answer.wav
    python -m oracle ask QUESTION.wav --json        # question, answer, language, engines and timings, for scripts
    python -m oracle ask --text "¿Debería…?" --language es

A typed question loads no hearing engine, and without ``-o`` no voice is loaded (nor torch, which only
choosing a voice may import: ``ask --text`` answers in about a second); a missing or unreadable file is
told before any engine loads. Errors are one line on stderr (and ``{"error": …}`` with --json) and exit status 2.
What it says is in the ``--language`` given (``oracle/messages``), English when none is (auto).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

USAGE_ERROR = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m oracle", description="Ask the Magic 8 Ball oracle.")
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("ask", help="ask one question, spoken (a WAV/MP3/... file) or typed")
    source = ask.add_mutually_exclusive_group(required=True)
    source.add_argument("audio", nargs="?", type=Path, help="recording of the question")
    source.add_argument("--text", help="the question as text")
    ask.add_argument("-o", "--output", type=Path, help="write the spoken answer to this WAV file")
    ask.add_argument("--json", action="store_true",
                     help="print one JSON object (question, answer, engines, timings in ms, output)")
    ask.add_argument("--language", default="auto",
                     help="the question's language: auto (the default: heard, or read from the text) or one of "
                          "en, es, fr, de, it, pt, ja")
    ask.add_argument("-v", "--verbose", action="store_true", help="log what the engines do")
    return parser.parse_args(argv)


def fail(message: str, as_json: bool, told: str | None = None) -> int:
    """``message`` (already in the language ``told``) as the one error line, exit status 2."""
    from oracle.messages import say

    if as_json:
        print(json.dumps({"error": message}, ensure_ascii=False))
    print(say("cli_error", told, message=message), file=sys.stderr)
    return USAGE_ERROR


def wake_oracle(settings, hearing: bool, voice: bool):
    """The engines this command needs: the voice only when the answer is to be spoken."""
    from oracle.pipeline import Oracle
    from oracle.selection import choose

    if voice:
        return Oracle.from_settings(settings, hearing=hearing)
    return Oracle(choose("asr", settings.asr, settings) if hearing else None,
                  choose("answerer", settings.answerer, settings), None, settings)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from oracle.errors import OracleError
    from oracle.languages import parse_language
    from oracle.messages import say

    try:
        language, refused = parse_language(args.language), None
    except OracleError as error:
        language, refused = None, error
    told = language  # the language the person is told things in: the one asked for, English when none (auto)
    # Checked before any engine loads: a typo in a path is told at once.
    if args.audio is not None and not args.audio.is_file():
        return fail(say("no_such_file", told, path=args.audio), args.json, told)
    if args.output is not None and not args.output.parent.is_dir():
        return fail(say("no_such_folder", told, path=args.output.parent), args.json, told)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")

    from oracle.config import Settings

    if refused is not None:
        return fail(refused.message(told), args.json, told)
    settings = Settings.from_env()
    typed = args.text is not None
    recording = None
    if not typed:  # decoded before any engine loads: a file that is not a usable recording is told at once
        from oracle.audio import load_question

        try:
            recording = load_question(args.audio, settings.min_question_s, settings.max_question_s)
        except OracleError as error:
            return fail(error.message(told), args.json, told)

    speaking = args.output is not None
    loading = ("cli_loading_typed" if typed else "cli_loading_spoken") + ("" if speaking else "_silent")
    print(say(loading, told), file=sys.stderr, flush=True)
    start = time.perf_counter()
    from oracle.audio import wav_bytes
    from oracle.pipeline import SPOKEN

    oracle = wake_oracle(settings, hearing=not typed, voice=speaking)
    timings = {"load_ms": round((time.perf_counter() - start) * 1000)}
    try:
        if typed:
            reply = oracle.ask_text(args.text, language)
        else:
            start = time.perf_counter()
            heard = oracle.hear_audio(recording, language)
            reply = oracle.reply_to(heard.text, heard.language, SPOKEN, hear_ms=(time.perf_counter() - start) * 1000)
        timings.update(hear_ms=None if reply.typed else round(reply.hear_ms), answer_ms=round(reply.answer_ms))
        if not args.json:
            print(say("cli_you_asked", told, question=reply.question))
            print(say("cli_oracle_says", told, answer=reply.answer), flush=True)
        if args.output:
            start = time.perf_counter()
            args.output.write_bytes(wav_bytes(oracle.speak_all(reply.answer, reply.language), oracle.sample_rate))
            timings["speak_ms"] = round((time.perf_counter() - start) * 1000)
            if not args.json:
                print(say("cli_spoken_answer", told, path=args.output))
    except OracleError as error:
        return fail(error.message(told), args.json, told)
    if args.json:
        engines = {"hearing": oracle.transcriber.name if oracle.transcriber else None,
                   "answering": oracle.answerer.name, "voice": oracle.speaker.name if oracle.speaker else None}
        print(json.dumps({"question": reply.question, "answer": reply.answer, "language": reply.language,
                          "engines": engines,
                          "timings": timings, "output": str(args.output) if args.output else None},
                         ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
