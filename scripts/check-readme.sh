#!/usr/bin/env bash
# Fails when README.md's command reference (between <!-- commands --> and <!-- commandsstop -->) is not what
# `npm run readme` writes from the built commands. It writes into a copy, so the work tree is never changed.
# Run after `npm run build` (npm test's pretest does).
set -euo pipefail
cd "$(dirname "$0")/.."

copy_dir=$(mktemp -d)
trap 'rm -rf "$copy_dir"' EXIT
cp README.md "$copy_dir/README.md"
npm run --silent readme -- --readme-path "$copy_dir/README.md" >/dev/null
if ! diff -u README.md "$copy_dir/README.md"; then
  echo 'README.md: the command reference is not what the commands say. Fix: npm run build && npm run readme' >&2
  exit 1
fi
