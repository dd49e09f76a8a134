#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (never a downloaded one). Install it when missing.
set -euo pipefail
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  echo "Installing Chromium for the browser tests (apt-get install chromium)..."
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  [ -x "$CHROMIUM" ] && exit 0
fi
echo "Chromium is required for the browser tests: install it (apt-get install chromium) or set CHROMIUM_PATH." >&2
exit 1
