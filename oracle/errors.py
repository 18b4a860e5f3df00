"""Errors the oracle raises on purpose.

Every ``OracleError`` names what to tell the person asking by its class: ``key`` is a key of the messages
table (``oracle/messages/<code>.json``), and ``message(language)`` is that message in their language. The
edges that talk to people translate (``oracle.web.flow`` for the page and the API, ``python -m oracle`` for
the command line); nothing deeper does. ``str(error)`` is the English message, or the detail an engine gave
(for the log: an engine's own words never reach a person). Anything else that escapes an engine is a bug
or an outage, and the app turns it into ``EngineUnavailable`` before a user can see a traceback.
"""

from __future__ import annotations

from oracle.messages import ENGLISH, KEYS, number, say


class OracleError(Exception):
    """Base class: ``message(language)`` is safe and friendly to show to a user.

    ``OracleError("some_key")`` names another message of the table; any other text is a detail for the
    log (``str(error)``), and the person is told the class's own message. ``values`` fill the message's
    blanks."""

    key = "clouded"

    def __init__(self, detail: str | None = None, **values):
        if detail in KEYS:
            self.key, detail = detail, None
        self.detail = detail
        self.values = values
        super().__init__(detail or self._english_default() or self.message(ENGLISH))

    def message(self, language: str | None = None) -> str:
        """What the person is told, in ``language`` (None: English)."""
        if (language or ENGLISH) == ENGLISH and (own := self._english_default()):
            return own
        return say(self.key, language, **self.fill(language))

    def fill(self, language: str | None) -> dict:
        """The message's blanks, written for ``language``."""
        return self.values

    @classmethod
    def _english_default(cls) -> str | None:
        """A ``default_message`` that a subclass made elsewhere set without a key of its own (its English
        text stays what people read in English; other languages get the key it inherits)."""
        for klass in cls.__mro__:
            if "key" in vars(klass):
                return None
            if "default_message" in vars(klass):
                return vars(klass)["default_message"]
        return None


class NoAudio(OracleError):
    key = "no_audio"


class BadAudio(OracleError):
    key = "bad_audio"


class SlowToRead(BadAudio):
    key = "slow_to_read"


class UnusualFormat(BadAudio):
    """A header claiming a format no microphone records (``rate`` Hz, ``channels`` channels)."""

    key = "unusual_format"

    def __init__(self, rate: int, channels: int):
        super().__init__(rate=rate, channels=channels)

    def fill(self, language: str | None) -> dict:
        count = self.values["channels"]
        return {"rate": number(self.values["rate"], language),
                "channels": say("channels_one" if count == 1 else "channels_other", language, count=count)}


class TooShort(OracleError):
    key = "too_short"


class NoSpeech(OracleError):
    key = "no_speech"


class NoSound(NoSpeech):
    key = "no_sound"


class EmptyQuestion(OracleError):
    key = "empty_question"


class NothingToSpeak(OracleError):
    key = "nothing_to_speak"


class EngineUnavailable(OracleError):
    key = "engine_unavailable"


class CouldNotHear(EngineUnavailable):
    """The hearing engine raised."""

    key = "could_not_hear"


class HearingTooSlow(EngineUnavailable):
    key = "hearing_too_slow"


class LostVoice(EngineUnavailable):
    """The voice failed before its first sound (the written answer stands)."""

    key = "lost_voice"


class AudioByLink(OracleError):
    key = "audio_by_link"


# ---- what the web server refuses, before any question reaches the oracle (oracle.web.defences, middleware) ----

class UnreadableRequest(OracleError):
    """Inputs Gradio cannot read (a number for a recording, a path outside the app, too few values)."""

    key = "unreadable_request"


class Busy(OracleError):
    """One visit or one client address has as many requests waiting as it may."""

    key = "busy"


class UnknownRequest(OracleError):
    key = "unknown_request"


class UnknownVisit(OracleError):
    key = "unknown_visit"


class RecordingEnded(OracleError):
    key = "recording_ended"


class NotServedHere(OracleError):
    key = "not_served_here"


class RequestTooLarge(OracleError):
    key = "request_too_large"

    def __init__(self, kilobytes: int):
        super().__init__(kb=kilobytes)


class UnreadableBody(OracleError):
    key = "unreadable_body"


class Closing(OracleError):
    """The server is draining (SIGTERM)."""

    key = "closing"
