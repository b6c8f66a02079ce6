#!/usr/bin/env bash
# The test command of the README: install what is missing, build with -Werror, run every test.
# BUILD_DIR (default build-test) and CTEST_ARGS (e.g. "-LE slow") can be overridden.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
dir=${BUILD_DIR:-build-test}
cmake -S . -B "$dir" -G Ninja -DEVA_WERROR=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$dir" -j "$(nproc)"
ctest --test-dir "$dir" --output-on-failure -j 2 ${CTEST_ARGS:-}
