"""Shared fixtures: spoken questions made with espeak-ng, one warmed-up embedded oracle, and the
real app served on 127.0.0.1 with a real ``gradio_client`` talking to it."""

from __future__ import annotations

import pytest

from harness.audio_tools import SpeechMaker
from harness.server import serve


@pytest.fixture(scope="session")
def speech(tmp_path_factory) -> SpeechMaker:
    return SpeechMaker(tmp_path_factory.mktemp("speech"))


@pytest.fixture(scope="session")
def oracle():
    from oracle.config import Settings
    from oracle.pipeline import Oracle

    instance = Oracle.from_settings(Settings())
    instance.warm_up()
    return instance


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
