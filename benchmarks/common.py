"""What the load and soak scripts share: launching the real app, following an HLS stream the way a
player does, and measuring the server (RSS, temporary files).

Everything here talks only to 127.0.0.1 and every wait has a deadline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness.audio_tools import StreamHung, first_update, follow_stream  # noqa: E402,F401
from harness.server import free_port  # noqa: E402

STARTUP_TIMEOUT_S = 180
HTTP_TIMEOUT_S = 30

QUESTIONS = [
    "Should I take the new job?",
    "Will I find love this year?",
    "Is it a good time to buy a house?",
    "Should I learn to play the guitar?",
    "Will my business succeed?",
    "Should I travel to Japan next spring?",
    "Is my friend telling me the truth?",
    "Will tomorrow be a lucky day?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class App:
    """``python app.py`` on a free port, with its own Gradio cache and temporary directory."""

    process: subprocess.Popen
    url: str
    workdir: Path
    log_path: Path

    @property
    def gradio_dir(self) -> Path:
        return self.workdir / "gradio"

    @property
    def tmp_dir(self) -> Path:
        return self.workdir / "tmp"

    def rss_mb(self) -> float:
        """Resident memory of the server process (children such as ffmpeg are short-lived)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(status.split("VmRSS:")[1].split()[0]) / 1024

    def temp_files(self) -> tuple[int, float]:
        """(count, MB) of every file under the app's Gradio cache and temporary directory."""
        files = [f for d in (self.gradio_dir, self.tmp_dir) for f in d.rglob("*") if f.is_file()]
        return len(files), sum(f.stat().st_size for f in files) / 1e6

    def threads(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(status.split("Threads:")[1].split()[0])

    def open_files(self) -> int:
        """File descriptors the server holds (files, sockets, pipes)."""
        return len(list(Path(f"/proc/{self.process.pid}/fd").iterdir()))

    def cache_files(self, max_age_s: float) -> dict[str, tuple[int, int]]:
        """Files of the app's Gradio cache by kind: {kind: (count, older than max_age_s)}."""
        oldest = time.time() - max_age_s
        kinds: dict[str, list[int]] = {}
        for path in self.gradio_dir.rglob("*"):
            if path.is_file():
                counts = kinds.setdefault(cache_file_kind(path.name), [0, 0])
                counts[0] += 1
                counts[1] += path.stat().st_mtime < oldest
        return {kind: (count, old) for kind, (count, old) in sorted(kinds.items())}

    def figures(self, max_age_s: float) -> str:
        cache = self.cache_files(max_age_s)
        files = ", ".join(f"{kind} {count} ({old} old)" for kind, (count, old) in cache.items()) or "none"
        return (f"RSS {self.rss_mb():.0f} MB, {self.threads()} threads, {self.open_files()} open files; "
                f"cache files (older than {max_age_s:.0f} s): {files}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def cache_file_kind(name: str) -> str:
    if name.startswith("oracle-answer-"):
        return "history WAVs"
    if name.startswith("example-"):
        return "examples (kept for good)"
    if name.startswith("question-"):
        return "uploads"
    if name.endswith((".aac", ".mp3", ".wav", ".ts")):
        return "answers/streams"
    return "other"


def launch_app(extra_env: dict[str, str] | None = None, keep_workdir: bool = False) -> App:
    workdir = Path(tempfile.mkdtemp(prefix="oracle-bench-"))
    (workdir / "tmp").mkdir()
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_TEMP_DIR": str(workdir / "gradio"),
        "TMPDIR": str(workdir / "tmp"),
        "GRADIO_ANALYTICS_ENABLED": "False",
        **(extra_env or {}),
    }
    log_path = workdir / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    app = App(process, f"http://127.0.0.1:{port}/", workdir, log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the app exited during start-up; see {log_path}")
        try:
            if httpx.get(app.url, timeout=2).status_code == 200:
                return app
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    app.stop()
    raise SystemExit("the app did not start in time")


def cleanup(app: App) -> None:
    app.stop()
    shutil.rmtree(app.workdir, ignore_errors=True)


def unique_recordings(directory: Path, count: int) -> list[Path]:
    """``count`` different recordings of the example questions: each upload is a new file to the
    server (Gradio stores uploads by content hash, so identical bytes would be stored only once)."""
    from harness.audio_tools import SpeechMaker

    speech = SpeechMaker(directory)
    rng = np.random.default_rng(8)
    bases = [soundfile.read(speech.say(q), dtype="float32") for q in QUESTIONS]
    paths = []
    for i in range(count):
        samples, rate = bases[i % len(bases)]
        variant = samples * rng.uniform(0.85, 1.0) + rng.normal(0, 1e-4, samples.size).astype(np.float32)
        path = directory / f"question-{i:04d}.wav"
        soundfile.write(path, variant, rate, subtype="PCM_16")
        paths.append(path)
    return paths
