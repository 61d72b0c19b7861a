#!/usr/bin/env bash
# Quick start on a Debian or macOS machine that has Node.js and npm: install what fleet needs, install fleet
# (the `fleet` command), and enroll this machine into a new fleet whose forge is a bare git repository in fleet's
# data directory. Unattended; run it again at any time (every step checks first).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> Installing git, chezmoi and age"
./scripts/install-deps.sh

echo "==> Installing fleet"
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
if ! npm link --silent 2>/dev/null; then
  echo "Could not link fleet onto your PATH (npm link failed); use $(pwd)/bin/run.js, or add $(pwd)/bin to PATH as 'fleet'." >&2
  fleet() { "$(pwd)/bin/run.js" "$@"; }
fi

echo "==> Enrolling this machine"
fleet enroll --yes "$@"
