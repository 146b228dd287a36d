#!/usr/bin/env bash
# Installs what the browser test needs: Debian's Chromium (apt-get) and
# playwright-core (npm, pinned by package-lock.json) to drive it.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ]; then
	echo "browser/setup.sh: installing Debian's chromium" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d node_modules/playwright-core ]; then
	command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --no-audit --no-fund --silent
fi
