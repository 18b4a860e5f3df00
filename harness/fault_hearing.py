"""Hearing engines that misbehave once warmed up, for the streamed-hearing fault tests, and the app served
with one of them.

Each is the real embedded Whisper (``oracle.asr.local.LocalWhisper``): it warms up as usual, then its
faster-whisper model misbehaves on every call, so a fault surfaces through the engine's own code, as a
real one would:

- ``raising``: faster-whisper's ``transcribe`` raises (as CTranslate2 does when it runs out of memory);
- ``hanging``: it blocks for ``HANG_S``, far longer than any deadline, until ``release()`` (at teardown:
  SIGUSR1 in the served app), so that no thread outlives the test;
- ``slow``: it takes ``SLOW_S`` longer than usual, then hears for real.

``python -m harness.fault_hearing KIND`` runs the app exactly as ``python app.py`` does (``app.main()``:
engines from the environment, warm-up, SIGTERM drain), with the hearing engine wrapped;
``harness.microphone.AppProcess`` starts it and measures it.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

HANG_S = 300.0
SLOW_S = 2.5


class HearingCrashed(RuntimeError):
    """What faster-whisper failing inside a transcription looks like to the engine around it."""


class _RaisingModel:
    def transcribe(self, *args, **kwargs):
        raise HearingCrashed("std::bad_alloc (faster-whisper failing on purpose: harness.fault_hearing)")


class _HangingModel:
    def __init__(self, model, released: threading.Event):
        self.model, self.released = model, released

    def transcribe(self, *args, **kwargs):
        self.released.wait(HANG_S)
        return self.model.transcribe(*args, **kwargs)


class _SlowModel:
    def __init__(self, model):
        self.model = model

    def transcribe(self, *args, **kwargs):
        time.sleep(SLOW_S)
        return self.model.transcribe(*args, **kwargs)


class MisbehavingWhisper:
    """The real ``LocalWhisper`` (``whisper``), whose faster-whisper model is swapped for a misbehaving one
    once it has warmed up. ``calls``: transcriptions asked of it since."""

    KINDS = ("raising", "hanging", "slow")

    def __init__(self, whisper, kind: str):
        if kind not in self.KINDS:
            raise ValueError(f"unknown fault {kind!r}: one of {', '.join(self.KINDS)}")
        self.whisper = whisper
        self.kind = kind
        self.name = f"{kind}-whisper"
        self.calls = 0
        self._released = threading.Event()
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self.whisper.warm_up()
        model = self.whisper._model  # faster_whisper.WhisperModel, as LocalWhisper keeps it
        self.whisper._model = {"raising": lambda: _RaisingModel(),
                               "hanging": lambda: _HangingModel(model, self._released),
                               "slow": lambda: _SlowModel(model)}[self.kind]()

    def transcribe(self, audio, language=None, hint=None):
        with self._lock:
            self.calls += 1
        return self.whisper.transcribe(audio, language, hint)

    def release(self) -> None:
        """Let every hanging call go on (and every later one through at once)."""
        self._released.set()


def main(kind: str) -> None:
    """``app.main()`` with the hearing engine it builds wrapped as ``MisbehavingWhisper(kind)``."""
    import app
    from oracle.pipeline import Oracle

    wrapped: list[MisbehavingWhisper] = []

    class OracleWithFaultyHearing(Oracle):
        @classmethod
        def from_settings(cls, settings, hearing: bool = True):
            oracle = Oracle.from_settings(settings, hearing)
            oracle.transcriber = MisbehavingWhisper(oracle.transcriber, kind)
            wrapped.append(oracle.transcriber)
            return oracle

    # SIGUSR1 (harness.microphone.AppProcess.stop): free the threads a hanging engine holds.
    signal.signal(signal.SIGUSR1, lambda signum, frame: [engine.release() for engine in wrapped])
    app.Oracle = OracleWithFaultyHearing
    app.main()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in MisbehavingWhisper.KINDS:
        raise SystemExit(f"usage: python -m harness.fault_hearing {{{','.join(MisbehavingWhisper.KINDS)}}}")
    main(sys.argv[1])
