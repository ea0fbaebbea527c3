#!/usr/bin/env bash
# Install CrateDigger: system libraries first (Debian/Ubuntu, when run as root or with sudo), then,
# in a virtual environment (.venv here, unless one is already active), torch 2.13.0 and the project
# with its test extra. Stock Debian 12's pip refuses to install outside a venv, so we make one.
# Usage: bash install.sh            (torch from PyPI: on Linux the CUDA build, which also runs on a CPU)
#        TORCH=cpu bash install.sh  (the CPU-only build from PyTorch's own index: far smaller download)
# Then:  .venv/bin/cratedigger-app  (tests: .venv/bin/python -m pytest)
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

BASE=${PYTHON:-python3}
if "$BASE" -c 'import sys; sys.exit(0 if sys.prefix != sys.base_prefix else 1)'; then
  # already in a venv (or conda): install there, and point .venv at it so the commands below work
  ACTIVE=$("$BASE" -c 'import sys; print(sys.prefix)')
  [ -e .venv ] || ln -s "$ACTIVE" .venv
elif [ ! -x .venv/bin/python ]; then
  # --system-site-packages: a torch already installed for this Python is reused, not downloaded again
  "$BASE" -m venv --system-site-packages .venv || {
    echo "install.sh: cannot create a virtual environment; on Debian/Ubuntu: apt-get install python3-venv" >&2
    exit 1
  }
fi
PYTHON=.venv/bin/python
# torch first and pinned: an unpinned torch (or a package that pulls one in) may fetch another build.
if [ "${TORCH:-}" = cpu ]; then
  "$PYTHON" -m pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
else
  "$PYTHON" -m pip install "torch==2.13.0"
fi
"$PYTHON" -m pip install -e ".[test]"
echo "install.sh: done. Start the app with .venv/bin/cratedigger-app; run the tests with .venv/bin/python -m pytest"
