"""Every limit the oracle enforces, in one place (the README's "Limits and behaviour" explains each)."""

# ---- a question ----
# Recordings shorter than this are not a question; longer ones are cut (only this much is heard).
MIN_QUESTION_SECONDS = 0.4
MAX_QUESTION_SECONDS = 30.0
# Anything longer is not one question: transcripts and typed questions are cut to this before any answerer.
MAX_QUESTION_CHARS = 300

# A streamed question: the microphone sends a chunk this often (seconds), and one recording streams for at
# most the longest question and a little more (it is cut there anyway; see ``listen_time_limit_s``). Chunks
# are cheap to take (a decode and a VAD pass); hearing runs on each recording's own threads
# (oracle/conversation.py), at most THINKING_CONCURRENCY transcriptions at once across all visits.
MICROPHONE_CHUNK_S = 0.25
LISTEN_TIME_MARGIN_S = 2.0
LISTENING_CONCURRENCY = 32
# Open microphone streams one client address may hold, running or waiting: one client cannot take every
# listening slot from everyone else.
MAX_STREAMS_PER_ADDRESS = 2
# Microphone chunks that may wait in line while the server takes the one before (a busy machine: the
# browser sends one every MICROPHONE_CHUNK_S regardless); past this the oldest waiting one is dropped.
MAX_WAITING_CHUNKS = 40
# A recording no chunk has reached for this long was left (tab closed, network gone; a browser sends one every
# MICROPHONE_CHUNK_S): its stream ends and its recording is let go.
LISTEN_IDLE_S = 4.0
# The longest the oracle waits for a question's words after it ended (an engine that hangs, a CPU that is
# swamped); then the person is told, kindly, to ask again.
HEARING_DEADLINE_S = 8.0


def listen_time_limit_s(max_question_s: float) -> float:
    return max_question_s + LISTEN_TIME_MARGIN_S

# ---- an answer ----
# The most text one request may have spoken (an answer is far shorter; /speak takes any text).
MAX_SPEAK_CHARS = 1000
# The longest one spoken answer may keep a speaking slot (and, on ZeroGPU, the GPU).
SPEAK_TIME_LIMIT_S = 55.0
# What a @spaces.GPU speaking call asks ZeroGPU for: the pipeline stops speaking before that, leaving
# a fresh GPU worker time to capture its CUDA graphs (oracle/speech/parler_fast.py) first.
SPEAK_GPU_SECONDS = 60
# A stream not resumed for this long has lost its listener (a live one is resumed every chunk, well
# under a second); it is closed when the next stream starts.
ABANDONED_STREAM_S = 30.0

# ---- the server ----
# Uploads above this are refused by Gradio's upload route with HTTP 413 (gradio_client refuses them
# before sending). Ten megabytes hold a minute of 48 kHz 16-bit stereo WAV; only 30 s are heard.
MAX_FILE_SIZE = "10mb"
# Requests waiting (not running) across both steps; one more gets "busy, please try again".
QUEUE_MAX_SIZE = 32
# Hearing and answering ("think", CPU), answering typed questions ("answer", CPU, milliseconds) and
# speaking ("speak", CPU here, GPU on ZeroGPU) queue separately: a long answer being spoken never holds up
# the next question being heard, and a typed question never waits behind recordings being transcribed.
THINKING_CONCURRENCY = 2
ANSWERING_CONCURRENCY = 2
SPEAKING_CONCURRENCY = 2
# A visit remembers at most this many questions (the oldest are forgotten first).
HISTORY_LIMIT = 20
# Gradio's cache (uploads, examples, whole-answer WAVs) is swept this often of files older than
# CACHE_MAX_AGE_S (a history download lasts that long); ORACLE_CACHE_MAX_AGE overrides the age.
CACHE_SWEEP_S = 60
CACHE_MAX_AGE_S = 900

# ---- a recording's format ----
# A header claiming a rate or a channel count outside these is refused before any decoding: no
# microphone makes it, and resampling from a 2**31 Hz "recording" alone costs seconds of CPU.
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000
MAX_CHANNELS = 8
# Decoding one recording (at most MAX_QUESTION_SECONDS of it) may take this long before it is refused.
DECODE_TIME_LIMIT_S = 10.0

# ---- strangers (see oracle/web/middleware.py and oracle/web/defences.py) ----
# A visit's id: Gradio's page makes ~11 characters, gradio_client a 36-character UUID.
MAX_SESSION_HASH_CHARS = 64
# A request that is not an upload is JSON (a question is cut to 300 characters, text to speak to
# 1,000); an upload request carries one file of MAX_FILE_SIZE plus its multipart framing.
MAX_JSON_BODY_BYTES = 1024 * 1024
MULTIPART_OVERHEAD_BYTES = 64 * 1024
# Requests one visit (a page, a gradio_client) may have waiting, and one client address (a household, an
# office behind one address): one more is told the app is busy, so one client cannot fill the queue.
MAX_WAITING_PER_VISIT = 4
MAX_WAITING_PER_ADDRESS = 8
# Visits whose state (history) is kept, least recently used forgotten first (Gradio's default: 10,000 at
# ~100 kB each); visits idle longer than CACHE_MAX_AGE_S are forgotten anyway.
MAX_VISITS = 500
# On SIGTERM, streams being spoken end at their next chunk with a friendly message; other running requests
# (hearing, answering) get DRAIN_GRACE_S; players get DRAIN_LINGER_S to fetch the end of their playlist;
# the process exits within DRAIN_EXIT_S.
DRAIN_GRACE_S = 4.0
DRAIN_LINGER_S = 2.0
DRAIN_EXIT_S = 9.0
