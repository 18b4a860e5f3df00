"""ZeroGPU correctness off-GPU: the voice engine runs only inside ``@spaces.GPU`` calls, never in the main process.

On a ZeroGPU Space the main process has no usable GPU: every CUDA use must happen inside a function decorated
with ``spaces.GPU`` (ZeroGPU runs it in a forked worker that holds a GPU). Here a fake ``spaces`` package says
"ZeroGPU" and records what it wraps; guards on the Parler model (its forward passes and codec decodes: what
would run on the GPU) and on torch's CUDA entry points record any use while no GPU call is running. The app
then starts the way ``app.main()`` starts it (engines warmed up, then served) and speaks through both of its
voice endpoints, ``/speak`` (streamed) and ``/consult`` (one WAV).
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
import types

import pytest
import torch
from gradio_client import Client, handle_file

from harness.server import free_port
from oracle.config import Settings
from oracle.limits import SPEAK_TIME_LIMIT_S
from oracle.pipeline import Oracle
from tests.parler_fixtures import single_torch_thread, tiny_parler_dir  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.usefixtures("single_torch_thread")
CUDA_ENTRY_POINTS = ("_lazy_init", "synchronize", "graph", "CUDAGraph", "Stream", "current_stream")


class FakeZeroGPU:
    """A ``spaces`` package on "ZeroGPU": ``GPU`` records each function it wraps and counts calls in flight."""

    def __init__(self):
        self.wrapped: dict[str, float | None] = {}
        self.in_flight = 0
        self._lock = threading.Lock()
        self.module = types.ModuleType("spaces")
        self.module.GPU = self.GPU
        self.module.config = types.ModuleType("spaces.config")
        self.module.config.Config = types.SimpleNamespace(zero_gpu=True)

    def _enter(self):
        with self._lock:
            self.in_flight += 1

    def _leave(self):
        with self._lock:
            self.in_flight -= 1

    def GPU(self, task=None, *, duration=None):  # noqa: N802  (the name spaces gives it)
        if task is None:
            return functools.partial(self.GPU, duration=duration)
        self.wrapped[task.__name__] = duration
        if inspect.isgeneratorfunction(task):
            @functools.wraps(task)
            def stream(*args, **kwargs):
                self._enter()
                try:
                    yield from task(*args, **kwargs)
                finally:
                    self._leave()
            return stream

        @functools.wraps(task)
        def call(*args, **kwargs):
            self._enter()
            try:
                return task(*args, **kwargs)
            finally:
                self._leave()
        return call


class OutsideGPUCalls:
    """Records every guarded call made while no GPU call is in flight, and counts those made inside one."""

    def __init__(self, zero: FakeZeroGPU):
        self.zero = zero
        self.outside: list[str] = []
        self.inside = 0

    def guard(self, name: str, function):
        @functools.wraps(function)
        def guarded(*args, **kwargs):
            if self.zero.in_flight:
                self.inside += 1
            else:
                self.outside.append(f"{name} in thread {threading.current_thread().name}")
            return function(*args, **kwargs)
        return guarded


@pytest.fixture
def zerogpu(monkeypatch):
    zero = FakeZeroGPU()
    monkeypatch.setitem(sys.modules, "spaces", zero.module)
    monkeypatch.setitem(sys.modules, "spaces.config", zero.module.config)
    import oracle.web.flow

    monkeypatch.setattr(oracle.web.flow, "spaces", zero.module)
    return zero


def test_the_voice_runs_only_inside_gpu_calls(zerogpu, monkeypatch, tiny_parler_dir, oracle, speech, tmp_path):
    import app
    from oracle.speech.parler import ParlerSpeaker

    settings = Settings(tts="parler", parler_model=str(tiny_parler_dir))
    speaker = ParlerSpeaker(settings, fast=True)  # loading is fine in the main process (ZeroGPU patches .to)
    guards = OutsideGPUCalls(zerogpu)
    model = speaker.model
    for module in (model, model.decoder):
        monkeypatch.setattr(module, "forward", guards.guard(type(module).__name__, module.forward))
    monkeypatch.setattr(model.audio_encoder, "decode", guards.guard("codec decode", model.audio_encoder.decode))
    for name in CUDA_ENTRY_POINTS:
        monkeypatch.setattr(torch.cuda, name, guards.guard(f"torch.cuda.{name}", getattr(torch.cuda, name)))

    # start-up, as app.main() does it
    space_oracle = Oracle(oracle.transcriber, oracle.answerer, speaker, settings)
    space_oracle.warm_up()
    assert guards.outside == [] and guards.inside == 0
    demo = app.build_demo(space_oracle, example_dir=tmp_path / "examples")
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False, download_files=False)
        updates = list(client.submit("The early bird catches the worm.", api_name="/speak"))
        assert updates
        after_speak = guards.inside
        assert after_speak > 0
        question, answer, spoken = client.predict(handle_file(str(speech.say("Will it rain tomorrow?"))),
                                                  api_name="/consult")
        assert answer and spoken
        assert guards.inside > after_speak
    finally:
        demo.close()

    assert guards.outside == []
    assert {"_speak", "_speak_whole"} <= set(zerogpu.wrapped)
    for name in ("_speak", "_speak_whole"):
        assert zerogpu.wrapped[name] >= SPEAK_TIME_LIMIT_S  # the pipeline stops speaking before the GPU call ends
    # The fast path warmed itself inside the first GPU call of this process, not at start-up.
    assert any(generator.warmed_in_process is not None for generator in speaker.fast)
