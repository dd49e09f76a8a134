"""The wire protocols the gateway speaks besides chat completions, each translated to and from
the upstream's chat completions by pure functions (request in, events out)."""
