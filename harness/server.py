"""Serving the real app on 127.0.0.1, in this process, on a free port."""

from __future__ import annotations

import socket
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(oracle, example_dir: Path):
    """The real app around ``oracle``, launched as main() launches it, on a free port: (demo, url)."""
    import app

    demo = app.build_demo(oracle, example_dir=example_dir)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                            quiet=True, **app.launch_settings())
    return demo, url
