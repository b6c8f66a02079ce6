#!/usr/bin/env bash
# fuzz/run.sh TARGET SECONDS [extra libFuzzer flags] — build the libFuzzer targets (clang, once)
# in build-fuzz/ and run TARGET on a scratch copy of fuzz/corpus/TARGET for SECONDS.
# New interesting inputs go to build-fuzz/corpus-TARGET (not into the repo); a crash leaves
# build-fuzz/crash-* and a non-zero exit status.
set -euo pipefail
target=${1:?usage: fuzz/run.sh TARGET SECONDS}
seconds=${2:-30}
shift 2 || true
root=$(cd "$(dirname "$0")/.." && pwd)
build=${EVA_FUZZ_BUILD:-$root/build-fuzz}
if [[ ! -f $build/build.ninja ]]; then
  CC=clang cmake -S "$root" -B "$build" -G Ninja -DEVA_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$build" "$target" >/dev/null
work=$build/corpus-$target
mkdir -p "$work"
seeds=$root/fuzz/corpus/$target
cd "$build"
exec "./fuzz/$target" -max_total_time="$seconds" -max_len=262144 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$@" "$work" "$seeds"
