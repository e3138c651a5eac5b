"""One module per pipeline step; each exposes `run(...)` and returns a summary."""
