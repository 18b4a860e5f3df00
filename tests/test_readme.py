"""The README's examples, run as written against the served app, so the README cannot rot."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from harness.audio_tools import decode
from harness.hearing import assert_heard
from oracle.answer.library import load_book

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
README_URL = "http://127.0.0.1:7860/"  # the port app.py prints by default


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_readme_names_the_port_the_app_prints():
    assert f"Running on local URL:  {README_URL.rstrip('/')}" in section("Set up, test, run")


def test_every_file_the_readme_examples_use_is_shipped():
    used = set(re.findall(r"\bdocs/[\w./-]+\.wav\b", section("API (`gradio_client`)") + section("Command line (no server)")))
    assert used == {"docs/question.wav"}
    assert (ROOT / "docs" / "question.wav").stat().st_size < 100_000


@pytest.mark.parametrize("number", [0, 1])
def test_the_readme_client_examples_run_against_the_app(server_url, oracle, tmp_path, monkeypatch, capsys, number):
    blocks = code_blocks(section("API (`gradio_client`)"), "python")
    assert len(blocks) == 2
    code = blocks[number]
    assert README_URL in code
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "question.wav", tmp_path / "docs")
    monkeypatch.chdir(tmp_path)  # as run from the repository: the examples name docs/question.wav

    exec(compile(code.replace(README_URL, server_url), f"README.md python block {number + 1}", "exec"), {})

    printed = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("Loaded as API")]
    proverbs = {p.text for p in oracle.answerer.proverbs}
    if number == 0:
        question, answer = printed[0].split(" -> ")
        assert_heard(question, "Should I learn to play the piano?")
        assert answer in proverbs and printed[1] in proverbs | {"Foolish questions get foolish answers."}
        assert printed[2] in {p.text for p in load_book("es")}, "the Spanish question got no Spanish proverb"
        wav = Path(printed[3].removeprefix("the whole spoken answer: "))
        assert wav.suffix == ".wav" and wav.stat().st_size > 20_000
    else:
        audio, rate = decode((tmp_path / "answer.aac").read_bytes())
        assert audio.size / rate > 1.5  # two sentences, spoken
