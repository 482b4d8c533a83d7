#!/usr/bin/env bash
# Installs the Debian packages named on the command line when they are missing.
# As root it runs apt-get (updating the package lists once); otherwise it prints the exact command and stops.
set -euo pipefail

if ! command -v swift >/dev/null 2>&1; then
  echo "error: the Swift toolchain (6.1 or newer) is not on PATH. Install it from swift.org, then run make again." >&2
  exit 1
fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
else
  # Not a Debian system (e.g. macOS uses Accelerate): nothing to install.
  exit 0
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  echo "Installing missing packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "Missing Debian packages: ${missing[*]}" >&2
  echo "Run this once, then run make again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
