"""What the tests and the benchmarks share: making and measuring real audio, driving a real browser,
serving the real app on 127.0.0.1, fake remote services that speak the real protocols, and a tiny
randomly initialised Parler-TTS model. Nothing here is used by the app itself."""
