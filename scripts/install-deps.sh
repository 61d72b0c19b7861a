#!/usr/bin/env bash
# Installs the programs fleet needs: git, chezmoi ≥ 2.71 and age ≥ 1.3 (Homebrew on macOS; apt on Debian, with
# chezmoi and age taken from Debian's unstable suite, whose static binaries install cleanly on Debian 12).
# With --for-tests it also installs what the test suite drives: openssh (an sshd on 127.0.0.1), rsync, tmux,
# python3 (plistlib) and systemd (systemd-analyze). Safe to run again: each step checks before it installs.
set -euo pipefail

for_tests=0
[ "${1:-}" = "--for-tests" ] && for_tests=1

version_at_least() { # $1 found, $2 wanted
  [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$2" ]
}
chezmoi_ok() {
  command -v chezmoi >/dev/null 2>&1 || return 1
  version_at_least "$(chezmoi --version | sed -E 's/^chezmoi version v?([0-9]+\.[0-9]+(\.[0-9]+)?).*/\1/')" 2.71
}
age_ok() {
  command -v age >/dev/null 2>&1 || return 1
  version_at_least "$(age --version | sed -E 's/^v?([0-9]+\.[0-9]+(\.[0-9]+)?).*/\1/')" 1.3
}

if [ "$(uname -s)" = "Darwin" ]; then
  command -v brew >/dev/null 2>&1 || { echo "Homebrew is needed: https://brew.sh" >&2; exit 1; }
  for formula in git chezmoi age; do
    brew list --versions "$formula" >/dev/null 2>&1 || brew install "$formula"
  done
  chezmoi_ok || brew upgrade chezmoi
  age_ok || brew upgrade age
  [ "$for_tests" = 1 ] && { command -v tmux >/dev/null 2>&1 || brew install tmux; }
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  chezmoi_ok && age_ok && command -v git >/dev/null 2>&1 && exit 0
  echo "Install git, chezmoi (2.71 or later) and age (1.3 or later) with your package manager, then run this again." >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "Root (or sudo) is needed to install packages." >&2; exit 1; }
  sudo="sudo"
fi

packages=(git ca-certificates)
[ "$for_tests" = 1 ] && packages+=(openssh-server openssh-client rsync tmux python3 systemd)
missing=()
for pkg in "${packages[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ "${#missing[@]}" -gt 0 ]; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! chezmoi_ok || ! age_ok; then
  # Without touching the machine's apt sources: the first stanza of its sources file, with the suite changed.
  tmp=$(mktemp -d)
  mkdir -p "$tmp/lists/partial"
  awk 'BEGIN{RS="";ORS="\n\n"} NR==1' /etc/apt/sources.list.d/debian.sources | sed 's/^Suites:.*/Suites: sid/' > "$tmp/sid.sources"
  o=(-o "Dir::Etc::SourceList=$tmp/sid.sources" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$tmp/lists")
  $sudo apt-get "${o[@]}" update -qq
  (cd "$tmp" && apt-get "${o[@]}" download chezmoi age)
  $sudo dpkg -i "$tmp"/*.deb
  rm -rf "$tmp"
fi
echo "git $(git --version | cut -d' ' -f3), $(chezmoi --version | cut -d, -f1), age $(age --version)"
