"""The streamed voice: a ``gr.Audio`` template that encodes its own segments, and a generator's later updates
that leave the voice's value whole or end its stream (Gradio 6.17.3)."""

from __future__ import annotations

import weakref

import gradio as gr
import numpy as np

from oracle.web.gradio_adapter.wrapping import wrap_once


class EncodedStreamingAudio(gr.Audio):
    """A streaming, non-interactive ``gr.Audio`` that encodes each ``(sample_rate, int16 samples)`` chunk itself
    (``encode_chunk``, in a subclass), where stock ``gr.Audio(streaming=True)`` writes every chunk to a WAV file
    and turns it into AAC through pydub (two ffmpeg processes per chunk). It takes the same values, and the
    browser draws it with the stock Audio component (a template component)."""

    is_template = True

    def __init__(self, **kwargs):
        super().__init__(streaming=True, interactive=False, **kwargs)

    # Gradio names a template's browser component after its base class (``__class__.__base__``): for a
    # subclass of this one, this class, which the browser does not have (it then fetches a custom component).
    def get_block_name(self) -> str:
        return "audio"  # gr.Audio's

    def get_block_class(self) -> str:
        return "audio"

    def get_config(self, cls=None):
        # Gradio builds a component's config from its class's ``__init__`` signature, which this one's
        # (``**kwargs``) would leave nearly empty: no label, autoplay or waveform options, and the browser's
        # player then fails to start. It is configured as ``gr.Audio`` itself.
        return gr.Audio.get_config(self, gr.Audio)

    def postprocess(self, value):
        if _is_samples(value) or isinstance(value, VoiceEnded):  # handled in stream_output and as it streams
            return value
        return super().postprocess(value)

    async def stream_output(self, value, output_id: str, first_chunk: bool):
        if isinstance(value, VoiceEnded):  # a stream that never began: nothing to end
            value = None
        if not _is_samples(value):
            return await super().stream_output(value, output_id, first_chunk)
        sample_rate, samples = value
        aac, duration_s = await self.encode_chunk(sample_rate, np.asarray(samples, dtype=np.int16), first_chunk)
        # The segment, and the playlist file the browser follows, shaped as gr.Audio's own.
        playlist = {"path": output_id, "is_stream": True, "orig_name": "audio-stream.mp3",
                    "meta": {"_type": "gradio.FileData"}}
        return {"data": aac, "duration": duration_s, "extension": ".aac"}, playlist

    async def encode_chunk(self, sample_rate: int, samples: np.ndarray, first_chunk: bool) -> tuple[bytes, float]:
        """One chunk as an ADTS AAC segment, and how many seconds it lasts."""
        raise NotImplementedError


class VoiceEnded:
    """What a generator gives its streamed voice once the voice has said all: the stream ends there, and the
    browser's player hears of it at once (``#EXT-X-ENDLIST``), while the generator goes on with its other
    outputs. Gradio 6.17.3 ends a stream only when its generator returns, and its player holds back the last
    0.09 s of audio until it knows the stream has ended."""


VOICE_ENDED = VoiceEnded()


def _is_samples(value) -> bool:
    """``(sample_rate, int16 samples)`` (Gradio hands the pair on as a list)."""
    return isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[1], np.ndarray)


def keep_streamed_values_whole(demo: gr.Blocks) -> None:
    """A generator's later updates leave the value of its streaming outputs (the voice's playlist) as it was,
    so that Gradio 6.17.3's browser client cannot rewrite that value before the page has read it.

    Symptom: the answer's step said "speaking" and its player stayed empty (no ``<audio>`` element, no
    playlist fetched), whenever the stream's updates reached the browser together: a voice prepared at the
    pause (one clause, then the closing update, within milliseconds), or a short typed answer on a slow
    browser. Mechanism: Gradio sends each update of a generator after the first as a diff against the one
    before. An update that leaves out the voice (``gr.skip()``, or a dict without it: the closing update with
    the timings and the history) is, for the voice, a diff from the playlist's ``FileData`` to
    ``{"__type__": "update"}``: delete each key, add ``__type__``. The browser client applies diffs in place
    (``apply_diff`` in ``@gradio/client``'s ``utils/stream.ts``), on the very object it handed the page with
    the first update; when the page reads that first update only after the next has arrived, it finds a
    no-op update, and the player is never given the stream. Here such a left-out streaming output is sent as
    "no new audio" (``None``: no segment, the same playlist), whose diff is empty.

    Also: Gradio keys a generator's streams by ``id()`` of its iterator, which Python reuses. A generator
    placed at the address of one that has finished would add its audio to that one's ended stream (its
    playlist starting with the old answer, and closed); such a stream is let go when the new one starts.

    And ``VOICE_ENDED`` ends a voice's stream before its generator returns (it is then "no new audio" too).
    """
    ended_by_their_generator: weakref.WeakSet = weakref.WeakSet()  # whose generator still runs

    def keeping_streamed_values_whole(handle):
        async def handle_keeping_streamed_values_whole(block_fn, data, session_hash=None, run=None, root_path=None,
                                                       final=False):
            if session_hash is not None and run is not None:
                streams = demo.pending_streams[session_hash].get(run, {})
                for i, block in enumerate(block_fn.outputs):
                    stream = streams.get(block._id)
                    if stream is None or not getattr(block, "streaming", False):
                        continue
                    if final:
                        ended_by_their_generator.discard(stream)
                    elif isinstance(data[i], VoiceEnded):
                        stream.end_stream()
                        ended_by_their_generator.add(stream)
                        data[i] = None
                    elif stream.ended and stream not in ended_by_their_generator:
                        del streams[block._id]  # an earlier generator's, at a reused id: this one starts its own
                    elif _is_skip(data[i]):
                        data[i] = None
            return await handle(block_fn, data, session_hash=session_hash, run=run, root_path=root_path, final=final)

        return handle_keeping_streamed_values_whole

    wrap_once(demo, "handle_streaming_outputs", keeping_streamed_values_whole)


def _is_skip(value) -> bool:
    """An update that changes nothing (``gr.skip()``; what Gradio puts for an output a dict leaves out)."""
    return isinstance(value, dict) and value == gr.skip()
