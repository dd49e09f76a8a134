#!/usr/bin/env bash
# The coding CLIs the end-to-end tests drive (pinned), installed once from the npm registry into
# a cache outside the checkout. Prints the directory whose node_modules/.bin holds them.
set -euo pipefail
CLAUDE_CODE_VERSION=2.1.332
CODEX_VERSION=0.171.0
DIR="${OPENCODEX_CLI_CACHE:-$HOME/.cache/opencodex}/clis-claude-$CLAUDE_CODE_VERSION-codex-$CODEX_VERSION"
if [ ! -x "$DIR/node_modules/.bin/claude" ] || [ ! -x "$DIR/node_modules/.bin/codex" ]; then
  command -v npm >/dev/null || { echo "npm is needed for the coding CLI tests" >&2; exit 1; }
  mkdir -p "$DIR"
  printf '{"private": true}\n' > "$DIR/package.json"
  (cd "$DIR" && npm install --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" "@openai/codex@$CODEX_VERSION" >&2)
fi
echo "$DIR"
