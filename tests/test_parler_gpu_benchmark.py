"""benchmarks/parler_gpu.py --smoke: the GPU benchmark's whole path (build, save, load through ParlerSpeaker,
warm up, eager and fast answers, the table) on tiny sizes on the CPU, so the command left for a GPU runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("parler_tts")
ROOT = Path(__file__).resolve().parents[1]


def test_smoke_run_prints_both_paths():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "parler_gpu.py"), "--smoke"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "Parler-TTS path: eager generate()" in done.stderr and "Parler-TTS path: fast" in done.stderr
    for label in ("steps/s", "first audio, s", "whole answer, s", "real-time factor", "longest gap between chunks, s",
                  "worst player margin, s", "peak GPU memory, GiB (both copies)"):
        assert re.search(rf"^{re.escape(label)}\s+\S+\s+\S+$", out, re.M), label
    steps = re.search(r"^steps/s\s+(\d+)\s+(\d+)$", out, re.M)
    assert steps and int(steps.group(1)) > 0 and int(steps.group(2)) > 0
    assert "fast path vs targets:" in out
