"""The streamed-answer player: Gradio's Audio, with each chunk encoded to AAC in-process.

Stock ``gr.Audio(streaming=True)`` turns every yielded chunk into AAC through pydub, which starts
two ffmpeg processes per chunk (0.1-0.5 s on a 2-core machine, most of the time to first audio).
This template keeps the same front-end component and the same values (WAV bytes per chunk) and
only replaces that encoding step.
"""

from __future__ import annotations

import anyio
import gradio as gr

from oracle.audio import adts_from_wav

from gradio.events import Dependency

class SpeechStream(gr.Audio):
    # A template component: the browser renders it with the stock Audio component.
    is_template = True

    def __init__(self, **kwargs):
        super().__init__(streaming=True, interactive=False, **kwargs)

    def get_config(self, cls=None):
        # Gradio builds a component's config from its class's __init__ signature; this one's is only
        # **kwargs, which would send the browser no label, autoplay or waveform options (and the
        # player then fails to start). Audio's signature lists them all.
        return super().get_config(cls or gr.Audio)

    async def stream_output(self, value, output_id: str, first_chunk: bool):
        if not isinstance(value, bytes):
            return await super().stream_output(value, output_id, first_chunk)
        aac, duration = await anyio.to_thread.run_sync(adts_from_wav, value)
        output_file = {"path": output_id, "is_stream": True, "orig_name": "audio-stream.mp3",
                       "meta": {"_type": "gradio.FileData"}}
        return {"data": aac, "duration": duration, "extension": ".aac"}, output_file
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component