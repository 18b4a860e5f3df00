"""Build a CPU-importable torchaudio wheel for the Parler-TTS stack.

Why: ``import parler_tts`` imports ``dac`` -> ``audiotools``, which does ``import torchaudio`` at module
level. Every Linux x86_64 torchaudio wheel on PyPI is a CUDA build: 2.8-2.10 pin ``torch==<same>``
and 2.11.0 (the last torchaudio release, stable ABI, no torch pin) links ``libc10_cuda.so`` and
``libcudart.so.13``, so ``import torchaudio`` raises ``OSError`` on a CPU torch. Parler never calls a
compiled torchaudio op (DAC decoding is plain torch; audiotools uses torchaudio only for
augmentation, loudness and file info, whose ``lfilter``/``overdrive`` have pure-Python fallbacks).

What: download the pinned PyPI wheel ``torchaudio==2.11.0`` (sha256 checked), and write the same
package without its CUDA-linked ``torchaudio/lib/*.so`` as ``torchaudio-2.11.0+nocuda`` (pure
Python, ``py3-none-any``, RECORD regenerated). torchaudio itself supports running without its
extension libraries (``torchaudio._extension._load_lib`` returns False when none is found; the
ops that need them - rnnt_loss, forced_align, the CUDA CTC decoder - then fail when called).

Use (before installing parler-tts, so pip sees ``torchaudio`` satisfied and keeps the CPU torch)::

    python scripts/build_torchaudio_nocuda.py .whl
    pip install .whl/torchaudio-2.11.0+nocuda-py3-none-any.whl
    pip install parler-tts==0.2.3

On a CUDA machine (a Hugging Face Space) install the real ``torchaudio==2.11.0`` instead.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

VERSION = "2.11.0"
LOCAL_VERSION = f"{VERSION}+nocuda"
SOURCE_WHEEL = f"torchaudio-{VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl"
SOURCE_SHA256 = "1a07ec72fd6f26a588c39b5f029e0130d16bb40bc4221635580bf8fb18fcbc80"
OUT_NAME = f"torchaudio-{LOCAL_VERSION}-py3-none-any.whl"
PIP_TIMEOUT_S = 300


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def download(directory: Path) -> Path:
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64",
        "--dest", str(directory), f"torchaudio=={VERSION}",
    ]
    subprocess.run(command, check=True, timeout=PIP_TIMEOUT_S)
    path = directory / SOURCE_WHEEL
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SOURCE_SHA256:
        raise SystemExit(f"{path.name}: sha256 {digest} is not the pinned {SOURCE_SHA256}")
    return path


def repack(source: Path, out_dir: Path) -> Path:
    old_info = f"torchaudio-{VERSION}.dist-info/"
    new_info = f"torchaudio-{LOCAL_VERSION}.dist-info/"
    out = out_dir / OUT_NAME
    records: list[str] = []
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            name = info.filename
            if info.is_dir() or name == old_info + "RECORD":
                continue
            if name.startswith("torchaudio/lib/") and name.endswith(".so"):
                continue  # the CUDA-linked extension libraries
            data = src.read(name)
            if name == "torchaudio/version.py":
                data = re.sub(rb"__version__ = '[^']*'", f"__version__ = '{LOCAL_VERSION}'".encode(), data)
            if name.startswith(old_info):
                name = new_info + name[len(old_info):]
                if name.endswith("/METADATA"):
                    data = data.replace(f"\nVersion: {VERSION}\n".encode(), f"\nVersion: {LOCAL_VERSION}\n".encode(), 1)
                elif name.endswith("/WHEEL"):
                    data = (
                        "Wheel-Version: 1.0\nGenerator: build_torchaudio_nocuda.py\n"
                        "Root-Is-Purelib: true\nTag: py3-none-any\n\n"
                    ).encode()
            dst.writestr(name, data)
            records.append(f"{name},{_record_hash(data)},{len(data)}")
        records.append(f"{new_info}RECORD,,")
        dst.writestr(new_info + "RECORD", "\n".join(records) + "\n")
    return out


def main() -> None:
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else ".whl").resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = repack(download(Path(tmp)), out_dir)
    print(out)


if __name__ == "__main__":
    main()
