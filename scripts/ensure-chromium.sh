#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (never a downloaded one). Install it when missing,
# and a font with Simplified and Traditional Chinese glyphs (the layout tests and their screenshots
# measure real characters, not empty boxes).
set -euo pipefail
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ] && command -v apt-get >/dev/null 2>&1 && command -v fc-list >/dev/null 2>&1 \
  && [ -z "$(fc-list :lang=zh-tw family 2>/dev/null)" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  echo "Installing a Chinese font for the browser tests (apt-get install fonts-wqy-zenhei)..."
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      $SUDO apt-get install -y -qq fonts-wqy-zenhei; } >/dev/null 2>&1 || true
fi
[ -x "$CHROMIUM" ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  echo "Installing Chromium for the browser tests (apt-get install chromium)..."
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null
  [ -x "$CHROMIUM" ] && exit 0
fi
echo "Chromium is required for the browser tests: install it (apt-get install chromium) or set CHROMIUM_PATH." >&2
exit 1
