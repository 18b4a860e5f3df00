"""Every error case of the README's limits table that a person is told about, asked through ``gradio_client``
with ``language="fr"`` and through the command line with ``--language fr``: the French message; with no
language, the English one, as before there were languages. Each is judged against the messages table
(``oracle.messages``, through the error that names it), never against a sentence written here.
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from oracle import errors
from oracle.audio import SAMPLE_RATE
from oracle.languages import UnsupportedLanguage
from oracle.messages import say
from oracle.pipeline import Oracle
from harness.audio_tools import follow_stream
from harness.fault_engines import BreakingSpeaker, ScriptedAnswerer
from harness.hearing import CLEAR_QUESTION
from harness.server import free_port
from harness.speaking import LONG_TEXT, wait_until

TIMEOUT_S = 180
# A header that claims 2**31 - 1 Hz, one channel (as tests/test_hostile_audio.py builds it).
HUGE_RATE = 2**31 - 1


def wav_header(rate: int, channels: int) -> bytes:
    block = 2 * channels
    fmt = (b"fmt " + (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + channels.to_bytes(2, "little")
           + rate.to_bytes(4, "little") + (rate * block % 2**32).to_bytes(4, "little") + block.to_bytes(2, "little")
           + (16).to_bytes(2, "little"))
    data = b"data" + (3200).to_bytes(4, "little") + b"\x01\x00" * 1600
    return b"RIFF" + (4 + len(fmt) + len(data)).to_bytes(4, "little") + b"WAVE" + fmt + data


def recordings(speech, tmp_path) -> dict[str, tuple]:
    """Each refused recording of the limits table, and the error that names what the person is told."""
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    picture = tmp_path / "picture.wav"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    playlist = tmp_path / "playlist.wav"
    playlist.write_text(f"#EXTM3U\n#EXTINF:2,\n{speech.say(*CLEAR_QUESTION)}\n")
    odd_rate = tmp_path / "odd-rate.wav"
    odd_rate.write_bytes(wav_header(HUGE_RATE, 1))
    return {
        "no recording": (None, errors.NoAudio()),
        "empty file": (empty, errors.BadAudio()),
        "a picture named .wav": (picture, errors.BadAudio()),
        "a playlist named .wav": (playlist, errors.BadAudio()),
        "a header claiming 2**31-1 Hz": (odd_rate, errors.UnusualFormat(HUGE_RATE, 1)),
        "silence": (speech.write("silence.wav", np.zeros(2 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE),
                    errors.NoSound()),
        "noise": (speech.write("noise.wav", 0.3 * np.random.default_rng(3).standard_normal(3 * SAMPLE_RATE),
                               SAMPLE_RATE), errors.NoSpeech()),
        "shorter than 0.4 s": (speech.write("short.wav", 0.3 * np.ones(SAMPLE_RATE // 5, dtype=np.float32),
                                            SAMPLE_RATE), errors.TooShort()),
    }


def refusal(call) -> str:
    with pytest.raises(AppError) as refused:
        call()
    return str(refused.value)


# ---------------------------------------------------------------- gradio_client

@pytest.mark.parametrize("language", ["fr", None])
def test_each_refused_recording_is_told_in_the_language_asked_for(client, speech, tmp_path, language):
    extra = [language] if language else []
    for case, (path, error) in recordings(speech, tmp_path).items():
        sent = handle_file(str(path)) if path is not None else None
        told = refusal(lambda: client.predict(sent, *extra, api_name="/ask"))
        assert told == error.message(language), f"{case}: {told!r}"
        told = refusal(lambda: client.predict(sent, *extra, api_name="/consult"))
        assert told == error.message(language), f"{case} (/consult): {told!r}"


@pytest.mark.parametrize("language", ["fr", "ja", None])
def test_typed_and_spoken_refusals_are_told_in_the_language_asked_for(client, language):
    extra = [language] if language else []
    assert refusal(lambda: client.predict("   ", *extra, api_name="/ask_text")) == \
        errors.EmptyQuestion().message(language)
    assert refusal(lambda: client.predict("?!...", *extra, api_name="/speak")) == \
        errors.NothingToSpeak().message(language)
    # Audio named by a link, and inputs Gradio cannot read: refused while the request is read.
    link = {"path": "https://example.com/question.wav", "meta": {"_type": "gradio.FileData"}}
    assert refusal(lambda: client.predict(link, *extra, api_name="/ask")) == errors.AudioByLink().message(language)
    assert refusal(lambda: client.predict(123, *extra, api_name="/ask")) == \
        errors.UnreadableRequest().message(language)


def test_an_unsupported_language_is_told_in_english_as_it_names_none(client):
    told = refusal(lambda: client.predict("Will I?", "xx", api_name="/ask_text"))
    assert told == UnsupportedLanguage().message(None) == UnsupportedLanguage().message("en")


def test_a_browser_that_names_its_language_is_told_in_it(server_url):
    """A script that sends Accept-Language (a browser does) and names no language is told in that one."""
    client = Client(server_url, verbose=False, download_files=False, headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert refusal(lambda: client.predict("", api_name="/ask_text")) == errors.EmptyQuestion().message("de")
    # The language the request names wins over the browser's.
    assert refusal(lambda: client.predict("", "pt", api_name="/ask_text")) == errors.EmptyQuestion().message("pt")


@pytest.fixture(scope="module")
def faulty(oracle, tmp_path_factory):
    """The app with a hearing engine that raises, an answerer that fails and a voice that dies before its
    first sound: (client)."""
    from harness.server import serve

    class RaisingTranscriber:
        name = "raising"

        def transcribe(self, audio, language=None, hint=None):
            raise RuntimeError("the hearing engine failed on purpose")

    answerer = ScriptedAnswerer()
    answerer.error = ConnectionError("the answering engine failed on purpose")
    broken = Oracle(RaisingTranscriber(), answerer, BreakingSpeaker(oracle.speaker, speak_first=0))
    demo, url = serve(broken, tmp_path_factory.mktemp("faulty"))
    yield Client(url, verbose=False, download_files=False)
    demo.close()


@pytest.mark.parametrize("language", ["fr", None])
def test_engine_failures_are_told_in_the_language_asked_for(faulty, speech, language):
    extra = [language] if language else []
    question = handle_file(str(speech.say(*CLEAR_QUESTION)))
    assert refusal(lambda: faulty.predict(question, *extra, api_name="/ask")) == \
        errors.CouldNotHear().message(language)
    assert refusal(lambda: faulty.predict("Vais-je réussir ?", *extra, api_name="/ask_text")) == \
        errors.EngineUnavailable().message(language)
    assert refusal(lambda: faulty.submit("Le temps le dira.", *extra, api_name="/speak").result(timeout=60)) == \
        errors.LostVoice().message(language)


def test_closing_is_told_in_the_language_of_each_request(oracle, tmp_path_factory):
    """SIGTERM's drain (begun here by hand): streams being spoken and requests waiting end with the closing
    message in their own language; new work is refused in the browser's."""
    import app
    from oracle.web.middleware import Drain

    drain = Drain()
    demo = app.build_demo(Oracle(oracle.transcriber, oracle.answerer, oracle.speaker),
                          example_dir=tmp_path_factory.mktemp("closing"))
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            **app.launch_settings(drain))
    try:
        client = Client(url, verbose=False, download_files=False)
        # Two streams speak (the speaking slots), the third waits.
        jobs = {language: client.submit(LONG_TEXT, *([language] if language else []), api_name="/speak")
                for language in ("fr", "de", None)}
        wait_until(lambda: sum(bool(job.outputs()) for job in jobs.values()) >= 2, 60, "no stream started")
        drain.begin()
        for language, job in jobs.items():
            assert refusal(lambda: job.result(timeout=30)) == errors.Closing().message(language)
        late = httpx.post(f"{url}gradio_api/queue/join", timeout=10, headers={"Accept-Language": "it-IT"},
                          json={"data": ["?"], "fn_index": 0, "session_hash": "late-visit"})
        assert late.status_code == 503 and late.json()["detail"] == errors.Closing().message("it")
        for job in jobs.values():
            if job.outputs():
                assert follow_stream(job.outputs()[0]["url"], time.monotonic() + 10).ended
    finally:
        demo.close()


# ---------------------------------------------------------------- the command line

def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "oracle", "ask", *args], capture_output=True, text=True,
                          timeout=TIMEOUT_S)


def assert_told(result, error_line: str):
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == error_line, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("language", ["fr", None])
def test_the_cli_tells_each_refusal_in_the_language_asked_for(speech, tmp_path, language):
    extra = ["--language", language] if language else []
    cases = recordings(speech, tmp_path)
    for case in ("a picture named .wav", "a header claiming 2**31-1 Hz", "shorter than 0.4 s", "noise"):
        path, error = cases[case]
        assert_told(run_cli(str(path), *extra), say("cli_error", language, message=error.message(language)))
    missing = tmp_path / "no-such-question.wav"
    assert_told(run_cli(str(missing), *extra),
                say("cli_error", language, message=say("no_such_file", language, path=missing)))
    result = run_cli("--text", "  ", *extra)
    assert_told(result, say("cli_error", language, message=errors.EmptyQuestion().message(language)))
    assert result.stderr.splitlines()[0] == say("cli_loading_typed_silent", language)  # no -o: no voice loaded


def test_the_cli_answers_in_the_words_of_the_language_asked_for(tmp_path):
    result = run_cli("--text", "Vais-je trouver un nouveau travail cette année ?", "--language", "fr")
    assert result.returncode == 0, result.stderr
    asked, says = result.stdout.splitlines()
    assert asked == say("cli_you_asked", "fr", question="Vais-je trouver un nouveau travail cette année ?")
    assert says.startswith(say("cli_oracle_says", "fr", answer=""))


def test_the_cli_tells_an_unsupported_language_in_english(tmp_path):
    assert_told(run_cli("--text", "Will I?", "--language", "klingon"),
                say("cli_error", None, message=UnsupportedLanguage().message(None)))
