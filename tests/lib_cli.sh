# lib_cli.sh — sourced by the cli_*.sh tests: strict mode, the eva binary, a scratch folder that
# is removed on exit, pass/fail counters, the tiny golden weights and the usual failure check.
set -uo pipefail
EVA=${EVA_BIN:?EVA_BIN must point at the eva binary}
TEST_NAME=$(basename "$0" .sh)
T=${EVA_TMP:-/tmp}/$TEST_NAME.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# $W: the tiny golden weights, assembled by test_forward_golden (ctest fixture tiny_weights)
need_tiny_weights() {
  W=${EVA_TMP:-/tmp}/tiny_timm.safetensors
  [ -f "$W" ] || { echo "$TEST_NAME: tiny weights missing (test_forward_golden sets them up)"; exit 1; }
}

# photo_folder DIR: 24 images in DIR/a, DIR/b (the 3 golden photos, 8 copies each); the
# pre-training tests' small deterministic dataset
photo_folder() {
  mkdir -p "$1/a" "$1/b"
  for i in 0 1 2 3 4 5 6 7; do
    cp data/preprocess/grace_hopper.jpg "$1/a/g$i.jpg"
    cp data/preprocess/rocket.jpg "$1/a/r$i.jpg"
    cp data/preprocess/chelsea.png "$1/b/c$i.png"
  done
}

# two_class_folder DIR: 16 images, classes cat and rocket (8 copies each); the fine-tuning tests'
two_class_folder() {
  mkdir -p "$1/cat" "$1/rocket"
  for i in 0 1 2 3 4 5 6 7; do
    cp data/preprocess/chelsea.png "$1/cat/c$i.png"
    cp data/preprocess/rocket.jpg "$1/rocket/r$i.jpg"
  done
}

# expect_fail WHAT PATTERN CMD...: a non-zero exit that is not a crash, stderr matching PATTERN
expect_fail() {
  local what=$1 pat=$2; shift 2
  "$@" >/dev/null 2>"$T/err"
  local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then bad "$what: rc $rc"; return; fi
  grep -qiE -- "$pat" "$T/err" && ok || bad "$what: '$(cat "$T/err")' lacks /$pat/"
}

# the closing line ctest output shows, and the exit status
finish() {
  echo "$TEST_NAME: $pass passed, $fail failed"
  [ $fail -eq 0 ]
}
