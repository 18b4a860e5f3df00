"""The Gradio side of the app: its look, the streamed-answer player, and the server's housekeeping."""
