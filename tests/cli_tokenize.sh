#!/usr/bin/env bash
# cli_tokenize.sh — `eva tokenize`: ids of golden strings, --context/--json/--raw/--trim, stdin,
# bad input and flag validation.
set -euo pipefail
EVA="${EVA_BIN:?EVA_BIN not set}"
T="${EVA_TMP:-/tmp}/cli_tokenize.$$"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# 1. golden case 0 and 1 (tokenizer_cases.json), full 77 ids and trimmed
out=$("$EVA" tokenize "a photo of a cat")
[ "$(echo "$out" | wc -w)" -eq 77 ] && ok || bad "77 ids expected: $out"
[ "$(echo "$out" | cut -d' ' -f1-8)" = "49406 320 1125 539 320 2368 49407 0" ] && ok || bad "case 0: $out"
out=$("$EVA" tokenize --trim "A PHOTO OF A DOG." "café naïve")
[ "$(echo "$out" | sed -n 1p)" = "49406 320 1125 539 320 1929 269 49407" ] && ok || bad "case 1: $out"
[ "$(echo "$out" | wc -l)" -eq 2 ] && ok || bad "one line per text"

# 2. --json, --context, --raw, stdin
out=$("$EVA" tokenize --json --context 5 "hello world" "x")
[ "$out" = "$(printf '[[49406, 3306, 1002, 49407, 0],\n [49406, 343, 49407, 0, 0]]')" ] && ok || bad "json: $out"
out=$("$EVA" tokenize --raw "a photo of a cat")
[ "$out" = "320 1125 539 320 2368" ] && ok || bad "raw: $out"
out=$(printf 'a photo of a cat\nhello world\n' | "$EVA" tokenize --trim -)
[ "$(echo "$out" | sed -n 2p)" = "49406 3306 1002 49407" ] && ok || bad "stdin: $out"

# 3. truncation: 100 words -> 77 ids, last 49407; empty text -> 49406 49407
long=$(printf 'word %.0s' $(seq 100))
out=$("$EVA" tokenize --trim "$long")
[ "$(echo "$out" | wc -w)" -eq 77 ] && [ "$(echo "$out" | awk '{print $77}')" = 49407 ] && ok || bad "truncation: $out"
out=$("$EVA" tokenize --trim "")
[ "$out" = "49406 49407" ] && ok || bad "empty: $out"
# invalid UTF-8 on stdin is accepted (U+FFFD)
out=$(printf '\xff\xfe cat\n' | "$EVA" tokenize --trim -)
[ "$(echo "$out" | awk '{print $1, $NF}')" = "49406 49407" ] && ok || bad "invalid utf-8: $out"

# 4. errors: exit 2, message on stderr, nothing on stdout
for args in "" "--context 1 x" "--context abc x" "--bogus x" "- x"; do
    # shellcheck disable=SC2086
    if "$EVA" tokenize $args >"$T/o" 2>"$T/e" </dev/null; then bad "accepted: $args"
    else [ $? -eq 2 ] && [ ! -s "$T/o" ] && grep -q "eva tokenize:" "$T/e" && ok || bad "error for '$args'"; fi
done
"$EVA" help tokenize | grep -q "usage: eva tokenize" && ok || bad "help"

echo "cli_tokenize: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
