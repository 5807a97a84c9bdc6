#!/usr/bin/env bash
# Set-up for the web UI evals, called by .ci/run: Debian's chromium (+ CJK fonts for screenshots
# of Chinese answers), Playwright's Python API (never `playwright install`), and Open WebUI in its
# own venv. Idempotent: an existing .venv-webui of the pinned version is kept, so a CI machine
# that caches it skips the ~2 min install.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

if ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
fi

# This machine's pip config lists local find-links dirs that do not exist; hide that noise.
make webui-setup 2> >(grep -v "^WARNING: Location 'file:///opt/" >&2)
echo "webui set-up: $((SECONDS - started)) s"
