#!/usr/bin/env bash
# Install CrateDigger into the current Python (>=3.11): system libraries first (Debian/Ubuntu, when
# run as root or with sudo), then the CPU build of torch, then the project with its test extra.
# Usage: bash install.sh            (app + tests)
set -euo pipefail
cd "$(dirname "$0")"

SYSTEM_PACKAGES=(
  libportaudio2          # sounddevice: audio output
  libsndfile1            # soundfile: reading and writing audio
  sndfile-programs       # sndfile-info: tests read the exported RIFF acid/smpl chunks with it
  hydrogen-drumkits      # recorded drum kits: real-audio test fixtures and the analysis corpus
  hydrogen-data
  lmms-common            # real drum loops for fixtures
  libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libegl1 libxkbcommon-x11-0  # Qt on a real X screen
)

if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO=skip; fi
  if [ "$SUDO" != skip ]; then
    missing=()
    for pkg in "${SYSTEM_PACKAGES[@]}"; do
      dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
  else
    echo "install.sh: not root and no sudo; install these with your package manager: ${SYSTEM_PACKAGES[*]}" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
# torch first and pinned: an unpinned torch (or a package that pulls one in) fetches CUDA builds.
"$PYTHON" -m pip install "torch==2.13.0"
"$PYTHON" -m pip install -e ".[test]"
