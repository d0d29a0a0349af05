#!/usr/bin/env bash
# Full test run: setup, Swift unit tests, then every pytest suite against the real `anyviz` kernel.
# Exits non-zero on any failure; ends with pytest's "N passed, N failed" summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export DEBIAN_FRONTEND=noninteractive
export ANYVIZ_TEST_KERNEL="${ANYVIZ_TEST_KERNEL:-anyviz}"
# Tests must not reach an LLM: the offline paths are what CI checks.
unset GEMINI_API_KEY OPENAI_API_KEY
START=$(date +%s)

bash scripts/setup.sh
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"

# Browser tests need Debian's chromium and its matching driver.
SUDO=""; [ "$(id -u)" != "0" ] && SUDO="sudo"
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    echo "test: installing chromium chromium-driver"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver </dev/null
fi

# redis for the cache tests: start our own on a free port unless one already answers.
REDIS_PID=""
cleanup() {
    if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
if [ -z "${ANYVIZ_REDIS_URL:-}" ]; then
    if command -v redis-cli >/dev/null && redis-cli -p 6379 ping >/dev/null 2>&1; then
        export ANYVIZ_REDIS_URL="redis://127.0.0.1:6379/15"
    else
        REDIS_DIR="$(mktemp -d)"
        redis-server --port 6390 --bind 127.0.0.1 --save "" --appendonly no --dir "$REDIS_DIR" >/dev/null 2>&1 &
        REDIS_PID=$!
        for _ in $(seq 50); do redis-cli -p 6390 ping >/dev/null 2>&1 && break; sleep 0.1; done
        export ANYVIZ_REDIS_URL="redis://127.0.0.1:6390/15"
    fi
fi

status=0
echo "test: swift test"
swift test || status=1

echo "test: pytest (kernel=$ANYVIZ_TEST_KERNEL)"
mkdir -p artifacts
.venv/bin/python -m pytest tests/python tests/integration tests/security tests/conformance tests/notebooks tests/browser \
    -q -rfEs -p no:cacheprovider --timeout=300 --junitxml=artifacts/pytest.xml || status=1

echo "test: finished in $(( $(date +%s) - START ))s, status $status"
exit $status
