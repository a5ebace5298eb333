#!/usr/bin/env bash
# Regenerates the demo: records project-docs/demo/run.sh as an asciicast
# (demo.cast) with asciinema, and renders it as an animated SVG (demo.svg,
# embedded in the README) with svg-term-cli. Installs both, pinned, into a
# temporary folder (asciinema from PyPI, svg-term-cli from npm).
#
#   bash project-docs/demo/record.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

readonly ASCIINEMA_VERSION=2.4.0
readonly SVG_TERM_VERSION=2.1.1
readonly COLS=100 ROWS=32

say() { printf '[demo] %s\n' "$*"; }

tools=$(mktemp -d "${TMPDIR:-/tmp}/authd-demo-tools.XXXXXX")
trap 'rm -rf "$tools"' EXIT

python3 -m venv "$tools/venv"
"$tools/venv/bin/python" -m pip install --quiet --disable-pip-version-check "asciinema==$ASCIINEMA_VERSION"
(cd "$tools" && npm install --silent --no-audit --no-fund --no-package-lock "svg-term-cli@$SVG_TERM_VERSION" >/dev/null)

cargo build --quiet -p auth-api --bin authd
export AUTHD="${CARGO_TARGET_DIR:-target}/debug/authd"

say "recording project-docs/demo/demo.cast"
# A fixed terminal size and environment, so the recording does not depend on
# the terminal it was made in.
COLUMNS=$COLS LINES=$ROWS TERM=xterm-256color SHELL=/bin/bash DEMO_PAUSE=1.6 FORCE_COLOR=1 \
  "$tools/venv/bin/asciinema" rec --overwrite --quiet --cols "$COLS" --rows "$ROWS" \
  --idle-time-limit 2 --title "Auth Module: sign-up to a refused token" \
  --command "bash project-docs/demo/run.sh" project-docs/demo/demo.cast </dev/null

say "rendering project-docs/demo/demo.svg"
"$tools/node_modules/.bin/svg-term" --in project-docs/demo/demo.cast \
  --out project-docs/demo/demo.svg --window --width "$COLS" --height "$ROWS"
ls -l project-docs/demo/demo.cast project-docs/demo/demo.svg
