"""Shared fixtures: spoken questions made with espeak-ng, one warmed-up embedded oracle, and the
real app served on 127.0.0.1 with a real ``gradio_client`` talking to it."""

from __future__ import annotations

import os
import tempfile

import pytest

from harness.audio_tools import SpeechMaker
from harness.browser_tools import find_chromium
from harness.fault_engines import WatchedSpeaker
from harness.server import serve


# Gradio's file cache for this test process alone: the app sweeps the files of earlier runs from it as it starts,
# and they must never be those of another test process (pytest -n) or of an app running on this machine.
_GRADIO_CACHE = tempfile.TemporaryDirectory(prefix="oracle-tests-gradio-")
os.environ["GRADIO_TEMP_DIR"] = _GRADIO_CACHE.name


def _runs_a_browser(item: pytest.Item) -> bool:
    return item.path.name.startswith("test_browser")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With ``-n 2 --dist loadgroup``, a test process takes whole files, and every browser file goes to one process,
    first: two browsers playing real-time audio at once starve each other on 2 cores, and the longest group begins
    first so the other process's files fill the time beside it."""
    items.sort(key=lambda item: not _runs_a_browser(item))  # stable: the files keep their order otherwise
    for item in items:
        item.add_marker(pytest.mark.xdist_group("browser" if _runs_a_browser(item) else item.path.name))


@pytest.fixture(scope="session")
def speech(tmp_path_factory) -> SpeechMaker:
    return SpeechMaker(tmp_path_factory.mktemp("speech"))


@pytest.fixture(scope="session")
def oracle():
    from oracle.config import Settings
    from oracle.pipeline import Oracle

    instance = Oracle.from_settings(Settings())
    instance.speaker = WatchedSpeaker(instance.speaker)  # tests wait on the voice's work (harness.speaking)
    instance.warm_up()
    return instance


@pytest.fixture(scope="session")
def smollm(oracle):
    """The real SmolLM2-135M answerer, loaded once (~18 s on 2 cores), the proverb book behind it."""
    from oracle.answer.smollm import SmolLMAnswerer
    from oracle.config import Settings

    answerer = SmolLMAnswerer(Settings(), book=oracle.answerer)
    answerer.warm_up()
    return answerer


@pytest.fixture(scope="session")
def served_demo(oracle, tmp_path_factory):
    """The session's running app (the gr.Blocks); ``server_url`` is where it listens."""
    demo, _url = serve(oracle, tmp_path_factory.mktemp("examples"))
    yield demo
    demo.close()


@pytest.fixture(scope="session")
def server_url(served_demo):
    return served_demo.local_url


@pytest.fixture(scope="session")
def client(server_url):
    from gradio_client import Client

    return Client(server_url, verbose=False, download_files=False)


@pytest.fixture
def downloading_client(server_url, tmp_path):
    from gradio_client import Client

    return Client(server_url, verbose=False, download_files=str(tmp_path))


class ScriptedApp:
    """The app served with engines the tests steer: ``answerer`` replies whatever a test scripts
    (``harness.fault_engines.ScriptedAnswerer``), ``hearing`` is the real one, watched (``WatchedTranscriber``),
    and ``voice`` is the real one until a test has it crash (``BreakingSpeaker``), watched (``WatchedSpeaker``);
    ``client`` talks to it."""

    NEVER = 10**9  # BreakingSpeaker.speak_first: the voice never crashes

    def __init__(self, oracle, example_dir):
        from gradio_client import Client

        from harness.fault_engines import BreakingSpeaker, ScriptedAnswerer, WatchedSpeaker, WatchedTranscriber
        from oracle.pipeline import Oracle

        self.answerer = ScriptedAnswerer()
        self.hearing = WatchedTranscriber(oracle.transcriber)
        self.voice = BreakingSpeaker(oracle.speaker, speak_first=self.NEVER)
        self.oracle = Oracle(self.hearing, self.answerer, WatchedSpeaker(self.voice))
        self.demo, self.url = serve(self.oracle, example_dir)
        self.client = Client(self.url, verbose=False, download_files=False)

    def reset(self) -> "ScriptedApp":
        self.answerer.reply, self.answerer.error = None, None
        self.voice.speak_first = self.NEVER
        return self


@pytest.fixture(scope="session")
def scripted_app_server(oracle, tmp_path_factory):
    app = ScriptedApp(oracle, tmp_path_factory.mktemp("scripted"))
    yield app
    app.demo.close()


@pytest.fixture
def scripted_app(scripted_app_server) -> ScriptedApp:
    """The session's one app with steered engines (one server for every module that needs one), as no
    test has steered it yet."""
    return scripted_app_server.reset()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        pytest.fail("no Chromium found: run `bash setup.sh` (as root it installs Debian's chromium), or "
                    "`sudo apt-get install chromium`, or set CHROMIUM=/path/to/chromium")
    return path
