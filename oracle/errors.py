"""Errors the oracle raises on purpose.

Every ``OracleError`` carries a message written for the person asking: the UI shows it as it is and
``gradio_client`` receives it as the error text. Anything else that escapes an engine is a bug or an
outage, and the app turns it into ``EngineUnavailable`` before a user can see a traceback.
"""


class OracleError(Exception):
    """Base class: ``str(error)`` is safe and friendly to show to a user."""

    default_message = "The oracle is clouded. Please try again."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.default_message)


class NoAudio(OracleError):
    default_message = "Please record a question first: press the microphone and speak."


class BadAudio(OracleError):
    default_message = "Couldn't read that audio. Please record your question again."


class TooShort(OracleError):
    default_message = "That was too short to be a question. Press Record, ask your question, then press Stop."


class NoSpeech(OracleError):
    default_message = "No question heard. Please speak a little louder, closer to the microphone."


class EmptyQuestion(OracleError):
    default_message = "Please type a question first."


class EngineUnavailable(OracleError):
    default_message = "The oracle cannot answer right now. Please try again in a moment."


class AudioByLink(OracleError):
    default_message = "Please upload the recording itself: links to audio are not accepted."
