"""The command line that needs no server: a real process per call, real engines, real audio."""

import json
import subprocess
import sys
from pathlib import Path

import soundfile

from harness.hearing import assert_heard

TIMEOUT_S = 180
# Shipped with the README: the Piper voice asking "Should I learn to play the piano?", 16 kHz mono.
QUESTION_WAV = Path(__file__).resolve().parent.parent / "docs" / "question.wav"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "oracle", "ask", *args], capture_output=True, text=True,
                          timeout=TIMEOUT_S)


def test_cli_answers_a_spoken_question_and_writes_the_spoken_answer(tmp_path, oracle):
    output = tmp_path / "answer.wav"
    result = run_cli(str(QUESTION_WAV), "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert "loading hearing, answering and voice" in result.stderr  # the progress line while engines load
    asked, says, spoken = result.stdout.splitlines()
    assert_heard(asked.removeprefix("You asked: "), "Should I learn to play the piano?")
    assert says.removeprefix("The oracle says: ") in {p.text for p in oracle.answerer.proverbs}
    assert spoken == f"Spoken answer: {output}"
    data, rate = soundfile.read(output)
    assert rate == 22050 and data.size / rate > 0.8


def test_cli_answers_a_typed_question_as_json_without_a_hearing_engine(tmp_path, oracle):
    output = tmp_path / "typed.wav"
    result = run_cli("--text", "  Should I go on holiday? ", "--json", "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert "loading answering and voice" in result.stderr
    reply = json.loads(result.stdout)
    assert reply["question"] == "Should I go on holiday?"
    assert reply["answer"] in {p.text for p in oracle.answerer.proverbs}
    assert reply["engines"] == {"hearing": None, "answering": "book", "voice": "piper"}
    timings = reply["timings"]
    assert timings["hear_ms"] is None and timings["answer_ms"] > 0 and timings["load_ms"] > 0
    assert timings["speak_ms"] > 0 and reply["output"] == str(output)
    data, rate = soundfile.read(output)
    assert rate == 22050 and data.size / rate > 0.8


def test_cli_says_a_missing_file_is_missing_before_loading_anything(tmp_path):
    missing = tmp_path / "no-such-question.wav"
    result = run_cli(str(missing))
    assert result.returncode == 2
    assert result.stderr == f"error: No such file: {missing}\n"  # one line, and no engine was loaded
    result = run_cli(str(missing), "--json")
    assert result.returncode == 2 and json.loads(result.stdout) == {"error": f"No such file: {missing}"}


def test_cli_reports_bad_audio_at_once_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope" * 10)
    result = run_cli(str(bad))
    assert result.returncode == 2
    # One line, and before any engine loaded.
    assert result.stderr == "error: Couldn't read that audio. Please record your question again.\n"


# What only hearing or speaking needs: a typed question without -o loads none of it.
AUDIO_AND_TORCH_MODULES = ("torch", "transformers", "sentence_transformers", "faster_whisper", "ctranslate2",
                           "gradio", "piper", "onnxruntime", "parler_tts")
IMPORTS_AFTER_ASKING = """
import json, sys
from oracle.__main__ import main
status = main(["ask", "--json", "--text", sys.argv[1]])
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in sys.argv[2:])))
sys.exit(status)
"""


def test_cli_answers_a_typed_question_without_importing_torch_or_any_voice():
    for question in ("Should I take the new job?", "¿Debería cambiar de trabajo?"):
        result = subprocess.run([sys.executable, "-c", IMPORTS_AFTER_ASKING, question, *AUDIO_AND_TORCH_MODULES],
                                capture_output=True, text=True, timeout=TIMEOUT_S)
        assert result.returncode == 0, result.stderr
        assert "(loading answering)" in result.stderr
        reply_line, imported_line = result.stdout.splitlines()
        reply = json.loads(reply_line)
        assert reply["engines"] == {"hearing": None, "answering": "book", "voice": None}
        assert reply["output"] is None and "speak_ms" not in reply["timings"]
        assert json.loads(imported_line) == []
    assert reply["language"] == "es"  # answered from the Spanish book
