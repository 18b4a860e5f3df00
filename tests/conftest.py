"""Shared fixtures: spoken questions made with espeak-ng, one warmed-up embedded oracle, and the
real app served on 127.0.0.1 with a real ``gradio_client`` talking to it."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.audio_tools import SpeechMaker


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server_url(oracle, tmp_path_factory):
    import app

    demo = app.build_demo(oracle, example_dir=tmp_path_factory.mktemp("examples"))
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                            quiet=True, max_file_size=app.MAX_FILE_SIZE, show_error=False)
    yield url
    demo.close()


@pytest.fixture(scope="session")
def client(server_url):
    from gradio_client import Client

    return Client(server_url, verbose=False, download_files=False)


@pytest.fixture
def downloading_client(server_url, tmp_path):
    from gradio_client import Client

    return Client(server_url, verbose=False, download_files=str(tmp_path))
