"""The command line that needs no server."""

import subprocess
import sys

import soundfile

from harness.hearing import CLEAR_QUESTION, assert_heard

TIMEOUT_S = 120


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "oracle", *args], capture_output=True, text=True,
                          timeout=TIMEOUT_S)


def test_cli_answers_a_spoken_question_and_writes_the_spoken_answer(speech, tmp_path):
    output = tmp_path / "answer.wav"
    result = run_cli("ask", str(speech.say(*CLEAR_QUESTION)), "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert_heard(result.stdout.split("You asked:")[1].splitlines()[0], CLEAR_QUESTION.text)
    assert "The oracle says:" in result.stdout
    data, rate = soundfile.read(output)
    assert rate == 22050 and data.size / rate > 0.8


def test_cli_answers_a_typed_question(tmp_path):
    output = tmp_path / "typed.wav"
    result = run_cli("ask", "--text", "Should I go on holiday?", "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert "You asked: Should I go on holiday?" in result.stdout
    assert output.stat().st_size > 10_000


def test_cli_reports_bad_audio_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope" * 10)
    result = run_cli("ask", str(bad))
    assert result.returncode == 2
    assert "Couldn't read that audio" in result.stderr
    assert "Traceback" not in result.stderr
