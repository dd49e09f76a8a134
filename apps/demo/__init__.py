"""The built-in demo upstream: an OpenAI-compatible model served inside the project, so the
embedded default works with no outside network."""
