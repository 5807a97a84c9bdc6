"""Open WebUI from the user's side: a headless Chromium chat page and the latency table."""
