"""The app exactly as ``python app.py`` runs it, with a hearing engine that misbehaves once warmed up, for the
streamed-hearing fault tests: ``python -m harness.fault_hearing KIND``.

The hearing engine ``app.main()`` builds (the real embedded Whisper) is wrapped, through the engine protocol
only, in ``harness.fault_engines.MisbehavingTranscriber``: ``raising`` (every transcription raises),
``hanging`` (blocks for ``HANG_S``, far longer than any deadline, until released: SIGUSR1, which
``harness.microphone.AppProcess.stop`` sends, so that no thread outlives the test) or ``slow`` (``SLOW_S``
longer than usual, then it hears for real). ``harness.microphone.AppProcess`` starts it and measures it.

One process serves every fault: ``switch_fault(app, kind)`` writes the kind to the file named by
``$ORACLE_FAULT_KIND_FILE`` and sends SIGUSR2; the app switches (releasing the calls left hanging) and logs
``SWITCHED`` with the kind.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from harness.fault_engines import MisbehavingTranscriber

HANG_S = 300.0
SLOW_S = 2.5
KIND_FILE_ENV = "ORACLE_FAULT_KIND_FILE"
SWITCHED = "hearing fault switched to"


def switch_fault(app, kind: str, timeout_s: float = 30) -> None:
    """Have the app (a ``harness.microphone.AppProcess`` running this module) misbehave as ``kind`` from now on;
    returns once it has said so in its log."""
    assert kind in MisbehavingTranscriber.KINDS and "harness.fault_hearing" in app.args
    Path(app.env[KIND_FILE_ENV]).write_text(kind)
    log_at = app.log_size()
    app.process.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + timeout_s
    while f"{SWITCHED} {kind}" not in app.log(log_at):
        assert time.monotonic() < deadline, f"the app did not switch to {kind!r} within {timeout_s} s"
        time.sleep(0.05)


def main(kind: str) -> None:
    """``app.main()`` with the hearing engine it builds wrapped as ``MisbehavingTranscriber(kind)``."""
    import app
    from oracle.pipeline import Oracle

    wrapped: list[MisbehavingTranscriber] = []

    class OracleWithFaultyHearing(Oracle):
        @classmethod
        def from_settings(cls, settings, *args, **kwargs):
            oracle = Oracle.from_settings(settings, *args, **kwargs)
            oracle.transcriber = MisbehavingTranscriber(oracle.transcriber, kind, hang_s=HANG_S, slow_s=SLOW_S)
            wrapped.append(oracle.transcriber)
            return oracle

    def switch(signum, frame):
        kind = Path(os.environ[KIND_FILE_ENV]).read_text().strip()
        for engine in wrapped:
            engine.switch(kind)
        print(f"{SWITCHED} {kind}", flush=True)

    # SIGUSR1 (harness.microphone.AppProcess.stop): free the threads a hanging engine holds.
    signal.signal(signal.SIGUSR1, lambda signum, frame: [engine.release() for engine in wrapped])
    signal.signal(signal.SIGUSR2, switch)
    app.Oracle = OracleWithFaultyHearing
    app.main()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in MisbehavingTranscriber.KINDS:
        raise SystemExit(f"usage: python -m harness.fault_hearing {{{','.join(MisbehavingTranscriber.KINDS)}}}")
    main(sys.argv[1])
