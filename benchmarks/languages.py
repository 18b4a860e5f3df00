"""Every supported language end to end through the served app: how well it hears, whether it answers in the
question's language, how well its voice is understood.

Launches ``app.py`` (embedded engines) and, per language, asks the spoken questions of
``harness.multilingual_audio`` (recorded by a voice of another kind than the language's answer voice where one
exists) through ``gradio_client``:

- hearing: word error (character error of the kana reading for Japanese) of ``/ask`` with the language given,
  and with ``auto``;
- answering: the share of answers that the offline language identifier (fastText lite) reads as the
  question's language (None, too short to tell, counts as a miss);
- speaking: the character error of ``/consult``'s spoken answer read back by the multilingual Whisper base.

Stop → first sound in the browser, per language: ``benchmarks/browser_latency.py --audio`` with one of these
recordings (printed at the end).

    .venv/bin/python benchmarks/languages.py
    .venv/bin/python benchmarks/languages.py --languages es fr --rounds 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import cleanup, launch_app  # noqa: E402
from harness.hearing import edit_distance  # noqa: E402
from harness.multilingual_audio import QUESTIONS, error_rate, kana_reading, recording  # noqa: E402


def characters(language: str, text: str) -> list[str]:
    """What a read-back is compared in: letters without accents or punctuation (the kana reading for ja)."""
    if language == "ja":
        return list(kana_reading(text))
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return [c for c in decomposed if c.isalnum()]


def read_back_error(whisper, language: str, wav_path: str, said: str) -> float:
    import soundfile
    import soxr

    audio, rate = soundfile.read(wav_path, dtype="float32")
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    heard = whisper.transcribe(soxr.resample(audio, rate, 16_000).astype("float32"), language).text
    reference = characters(language, said)
    return edit_distance(reference, characters(language, heard)) / max(1, len(reference))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--languages", nargs="+", default=list(QUESTIONS), help="codes (default: all)")
    parser.add_argument("--rounds", type=int, default=1, help="times each question is asked (default 1)")
    args = parser.parse_args()

    from gradio_client import Client, handle_file

    from oracle.asr.multilingual import MultilingualWhisper
    from oracle.language_id import identify

    whisper = MultilingualWhisper()
    recordings = {language: [(q, recording(q)) for q in QUESTIONS[language]] for language in args.languages}
    app = launch_app()
    try:
        client = Client(app.url, verbose=False)
        rows = []
        for language in args.languages:
            given, auto, in_language, spoken, ask_ms = [], [], [], [], []
            for _ in range(args.rounds):
                for question, path in recordings[language]:
                    start = time.perf_counter()
                    heard, answer = client.predict(handle_file(str(path)), language, api_name="/ask")
                    ask_ms.append((time.perf_counter() - start) * 1000)
                    given.append((question, heard))
                    in_language.append(identify(answer)[0] == language)
                    heard_auto, answer_auto = client.predict(handle_file(str(path)), "auto", api_name="/ask")
                    auto.append((question, heard_auto))
                    in_language.append(identify(answer_auto)[0] == language)
                    _question, answer, wav = client.predict(handle_file(str(path)), language, api_name="/consult")
                    spoken.append(read_back_error(whisper, language, wav, answer))
            rows.append((language, error_rate(given), error_rate(auto), sum(in_language), len(in_language),
                         statistics.median(spoken), statistics.median(ask_ms)))
    finally:
        cleanup(app)

    print(f"\n{'lang':4}  {'hearing error':>13}  {'(auto)':>6}  {'answers in it':>13}  {'spoken CER p50':>14}  "
          f"{'/ask p50':>8}")
    for language, error, error_auto, good, total, cer, ms in rows:
        print(f"{language:4}  {error:13.1%}  {error_auto:6.1%}  {good:>6}/{total:<6}  {cer:14.1%}  {ms:6.0f} ms")
    print("\nhearing error: words (ja: characters of the reading); answers in it: fastText lite says the question's "
          "language; spoken CER: /consult's answer read back by Whisper base")
    print("Stop -> first sound in the browser, e.g.:")
    for language in args.languages:
        print(f"  .venv/bin/python benchmarks/browser_latency.py --audio {recordings[language][0][1]} --questions 6")


if __name__ == "__main__":
    main()
