"""The answer's playlist, as the browser's player (hls.js) reads it from the real app, over raw HTTP: a reload that
names the next segment (``?_HLS_msn=N``) waits for it, or for the end of the stream, and is answered as it comes
(``oracle.web.gradio_adapter.playlist``). Gradio's own route answers at once, and the player would ask again
only seconds later: the answer stopped short before each late segment and before its end."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from gradio.route_utils import MediaStream

from harness.gradio_probes import run
from oracle.web.gradio_adapter.playlist import HOLD_S

HELD_AT_LEAST_S = 0.3  # a reload answered sooner than this was not held


@dataclass
class VoiceStream:
    stream: MediaStream
    url: str  # its playlist's


@pytest.fixture
def voice(served_demo, request) -> VoiceStream:
    """A voice's stream with one segment, kept as Gradio keeps a visit's answer (the run and component numbers
    are the URL's); gone after the test."""
    session = re.sub(r"[^a-z0-9]", "-", request.node.name.lower())[:60]
    stream = MediaStream()
    _add_segment(stream)
    served_demo.pending_streams[session] = {7: {3: stream}}
    yield VoiceStream(stream, f"{served_demo.local_url}gradio_api/stream/{session}/7/3/playlist.m3u8")
    served_demo.pending_streams.pop(session, None)


def _add_segment(stream: MediaStream) -> None:
    run(stream.add_segment({"data": b"\xff\xf1", "duration": 0.5, "extension": ".aac"}))


def _segments(playlist: str) -> int:
    return playlist.count("#EXTINF:")


def test_a_plain_reload_is_answered_at_once_and_allows_blocking_reloads(voice):
    reply = httpx.get(voice.url, timeout=30)
    assert reply.elapsed.total_seconds() < HOLD_S, "a reload that names no segment is never held"
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/vnd.apple.mpegurl"
    playlist = reply.text
    assert "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES" in playlist, playlist
    assert "#EXT-X-MEDIA-SEQUENCE:1" in playlist and "#EXT-X-START:TIME-OFFSET=0" in playlist, playlist
    assert "#EXT-X-TARGETDURATION:1" in playlist, "the target duration is the longest segment's, rounded up"
    assert _segments(playlist) == 1 and "#EXT-X-ENDLIST" not in playlist, playlist


def _reload_held_until(voice: VoiceStream, happens) -> str:
    """The playlist a reload waiting for segment 2 gets: it is still held ``HELD_AT_LEAST_S`` later, then
    ``happens()``, and it must be answered within ``HOLD_S``."""
    with ThreadPoolExecutor(1) as player:
        waiting = player.submit(httpx.get, voice.url, params={"_HLS_msn": 2}, timeout=2 * HOLD_S)
        with pytest.raises(TimeoutError):
            waiting.result(timeout=HELD_AT_LEAST_S)
        happens()
        return waiting.result(timeout=HOLD_S).text


def test_a_reload_waiting_for_the_next_segment_is_answered_when_it_arrives(voice):
    playlist = _reload_held_until(voice, lambda: _add_segment(voice.stream))
    assert _segments(playlist) == 2 and "#EXT-X-ENDLIST" not in playlist, playlist


def test_a_reload_waiting_at_the_end_is_answered_when_the_stream_ends(voice):
    playlist = _reload_held_until(voice, voice.stream.end_stream)
    assert _segments(playlist) == 1 and playlist.endswith("#EXT-X-ENDLIST\n"), playlist


def test_a_reload_for_a_segment_that_never_comes_is_answered_after_the_hold(voice):
    reply = httpx.get(voice.url, params={"_HLS_msn": 2}, timeout=3 * HOLD_S)
    assert reply.status_code == 200 and _segments(reply.text) == 1, reply.text
    assert reply.elapsed.total_seconds() >= HOLD_S - 0.1


def test_a_playlist_the_server_does_not_have_is_404_and_leaves_nothing_behind(served_demo):
    for query in ("", "?_HLS_msn=2"):
        reply = httpx.get(f"{served_demo.local_url}gradio_api/stream/no-such-visit/1/2/playlist.m3u8{query}",
                          timeout=HOLD_S / 2)
        assert reply.status_code == 404, reply.text
    assert "no-such-visit" not in served_demo.pending_streams, "Gradio's route keeps an entry for every visit named"


def test_many_players_holding_reloads_at_once_are_all_answered_and_the_server_goes_on(voice):
    """A hostile client holding more reloads than the server waits on at once (``MAX_HOLDING``): each is answered,
    the ones over the bound at once, and the server still answers a plain reload."""
    from oracle.web.gradio_adapter.playlist import MAX_HOLDING

    count = MAX_HOLDING + 16
    with httpx.Client(limits=httpx.Limits(max_connections=count), timeout=3 * HOLD_S) as http:
        with ThreadPoolExecutor(count) as players:
            replies = list(players.map(lambda _: http.get(voice.url, params={"_HLS_msn": 2}), range(count)))
        assert [reply.status_code for reply in replies] == [200] * count
        answered_at_once = sum(reply.elapsed.total_seconds() < HOLD_S - 0.5 for reply in replies)  # not held
        assert answered_at_once >= count - MAX_HOLDING, f"only {answered_at_once} of {count} were answered at once"
        assert http.get(voice.url).status_code == 200
