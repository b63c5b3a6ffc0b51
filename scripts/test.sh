#!/usr/bin/env bash
# The project's test command (README quick start; .ci/run calls it): install, lint, test.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install -q -e ".[test,ray,dlib]"
# mediapipe's declared dependencies would replace numpy/opencv here: install it without them.
python -m pip install -q --no-deps mediapipe==0.10.21
python -m pip install -q absl-py attrs flatbuffers "protobuf>=4.25.3,<5"
# Headless Chromium renders the HTML report in one test; install it where apt is usable (CI runs
# as root), otherwise that test skips with its reason.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
   && [ "${CI:-}" = "true" ]; then
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; the report rendering test will skip"
fi

ruff check src tests benchmarks
ruff format --check src tests benchmarks
python -m pytest "$@"
