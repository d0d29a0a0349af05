#!/usr/bin/env bash
# One-time (and idempotent) setup of a Debian 12 machine for AnyViz:
# system libraries, the project venv, the release build and the `anyviz` kernelspec.
# Safe to re-run: every step checks what is already there, so CI and developers use the same path.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

export DEBIAN_FRONTEND=noninteractive
# Swift lives at /opt/swift on the reference machine; keep an existing toolchain on PATH first.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

# 1. System packages (libzmq, libcurl for the LLM client, Python headers/venv, redis for the cache,
#    Java for Spark local mode).
APT_PKGS=(libzmq3-dev libcurl4-openssl-dev python3-dev python3-venv pkg-config redis-server libseccomp2
          openjdk-17-jre-headless)
missing=()
for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
else
    echo "setup: system packages present"
fi

# 2. The project venv, always from Debian's CPython 3.11 (the kernel embeds libpython3.11;
#    a pyenv `python3` earlier on PATH would give a mismatching interpreter).
PY=/usr/bin/python3.11
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv from $PY"
    "$PY" -m venv .venv
fi
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
# pip is quick when everything is satisfied; quiet keeps CI logs readable.
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt

# 3. Release build of the kernel.
echo "setup: swift build -c release"
swift build -c release

# 4. Kernelspec `anyviz` into the venv (kernel.json with absolute paths, written by the binary).
.build/release/anyviz-kernel install --sys-prefix --venv "$VIRTUAL_ENV"
.venv/bin/jupyter kernelspec list
echo "setup: done"
