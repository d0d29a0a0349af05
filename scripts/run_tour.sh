#!/usr/bin/env bash
# Execute notebooks/tour.ipynb headless with the AnyViz kernel and write build/tour.html.
# Runs offline: LLM keys are removed so %viz uses its local planner/fallback.
set -euo pipefail
cd "$(dirname "$0")/.."
unset GEMINI_API_KEY OPENAI_API_KEY
KERNEL="${ANYVIZ_TEST_KERNEL:-anyviz}"
mkdir -p build
.venv/bin/jupyter nbconvert --to html --execute \
    --ExecutePreprocessor.kernel_name="$KERNEL" \
    --ExecutePreprocessor.timeout=300 \
    --output-dir build --output tour notebooks/tour.ipynb
echo "$PWD/build/tour.html"
