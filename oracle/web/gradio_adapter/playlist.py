"""The streamed voice's HLS playlist, served as a Low-Latency HLS blocking reload (Gradio 6.17.3 serves it as a
plain live playlist).

Symptom: an answer whose voice comes slower than the browser's player asks for it (a loaded server; Parler
streaming clause by clause on a GPU) plays its first segment, then stops 0.09 s before that segment's end for
about 3 s, and again before the end of the answer: "done" comes seconds after the last word, and on a busy
machine it was seen never to come. Mechanism: the player (hls.js, ``lowLatencyMode``) learns of a new segment,
and of the end of the stream (``#EXT-X-ENDLIST``, which lets it play the last 0.09 s it holds back), only by
reloading the playlist, and it reloads a live playlist after its target duration, or half of it when
nothing changed. Gradio's ``MediaStream`` raises that target by 1 s with every segment (``max(target,
segment) + 1``): 6 s after one segment, 11 s after six.

Here the playlist says ``CAN-BLOCK-RELOAD=YES``, so hls.js asks for the next one at once, naming the segment it
waits for (``?_HLS_msn=N``), and this answers as soon as that segment is there or the stream has ended (or after
``HOLD_S``, when hls.js falls back to its timer). Segments are numbered from 1 (hls.js blocks on nothing after a
segment numbered 0) and served by Gradio as before. The target duration is the longest segment's, rounded up,
as HLS says, and ``EXT-X-START`` has the player begin at the answer's beginning (hls.js would begin a live
playlist one target duration before its end). hls.js blocks only once a reload has brought a new segment: the
end of an answer whose every segment was there at its first load still comes by the timer (half the target
duration), hence also ``voice.VOICE_ENDED``.
"""

from __future__ import annotations

import asyncio
import math
import re
import weakref
from urllib.parse import parse_qs

from oracle.limits import MAX_SESSION_HASH_CHARS
from oracle.web.gradio_adapter.memory import blocks_of

PLAYLIST_ROUTE = re.compile(r"/gradio_api/stream/([A-Za-z0-9_-]{1,%d})/(\d{1,20})/(\d{1,9})/playlist\.m3u8"
                            % MAX_SESSION_HASH_CHARS)
# How long a reload waits for its segment: hls.js gives up on a playlist after 10 s without a first byte.
HOLD_S = 4.0
# At most this many reloads wait at once (each polls): the rest are answered at once, as Gradio would.
MAX_HOLDING = 64
POLL_S = 0.02

_holding: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # per gr.Blocks: touched on its event loop only


def is_playlist_request(scope) -> bool:
    return scope["method"] == "GET" and PLAYLIST_ROUTE.fullmatch(scope["path"]) is not None


async def playlist_for(scope) -> str | None:
    """The playlist a request (an ASGI ``scope`` for which ``is_playlist_request``) is answered with, once the
    segment it asks for (``_HLS_msn``) is there, or the stream has ended, or ``HOLD_S`` has passed; None for a
    stream the server does not have."""
    session_hash, run, component = PLAYLIST_ROUTE.fullmatch(scope["path"]).groups()
    demo = blocks_of(scope["app"])
    waits_for = _next_segment_asked(scope)
    stream = _stream(demo, session_hash, int(run), int(component))
    if stream is None or waits_for is None or _holding.get(demo, 0) >= MAX_HOLDING:
        return None if stream is None else playlist_text(stream)
    _holding[demo] = _holding.get(demo, 0) + 1
    try:
        deadline = asyncio.get_running_loop().time() + HOLD_S
        while (len(stream.segments) < waits_for and not stream.ended
               and asyncio.get_running_loop().time() < deadline):
            await asyncio.sleep(POLL_S)
    finally:
        _holding[demo] -= 1
    return playlist_text(stream)


def playlist_text(stream) -> str:
    """A Gradio ``MediaStream`` as a live HLS playlist that allows blocking reloads."""
    longest = max((segment["duration"] for segment in stream.segments), default=1.0)
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-PLAYLIST-TYPE:EVENT",
             f"#EXT-X-TARGETDURATION:{max(1, math.ceil(longest))}", "#EXT-X-MEDIA-SEQUENCE:1",
             "#EXT-X-START:TIME-OFFSET=0", "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES"]
    for segment in stream.segments:
        lines += [f"#EXTINF:{segment['duration']:.3f},", f"{segment['id']}{segment['extension']}"]
        if segment["extension"] == ".ts":  # as Gradio: a video's chunks are not re-encoded to join up
            lines.append("#EXT-X-DISCONTINUITY")
    if stream.ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _next_segment_asked(scope) -> int | None:
    """The segment a blocking reload waits for (``_HLS_msn``); None for a plain request or a number not sent by
    a player."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    asked = query.get("_HLS_msn", [""])[0]
    return int(asked) if asked.isdigit() and len(asked) < 10 else None


def _stream(demo, session_hash: str, run: int, component: int):
    return demo.pending_streams.get(session_hash, {}).get(run, {}).get(component)
