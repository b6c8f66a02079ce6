#!/usr/bin/env bash
# cli_mpi.sh — data-parallel `eva pretrain` over MPI (docs/distributed.md) with the golden tiny
# EVA as teacher and a tiny student, 20 steps:
#  - 2 ranks x batch 4 == 1 rank x batch 8 within 1e-5 (not bit-exact: a single process sums the
#    gradient over the whole batch inside its GEMMs, two ranks sum two halves and then add them)
#  - --deterministic: bit-identical for other bucket sizes, with ZeRO-1, and after kill + resume
#  - --zero1 == plain data parallel, bit-identical (2 ranks: a + b is commutative)
#  - checkpoints resume on another number of ranks (2 -> 1, 1 -> 2; ZeRO-1 -> 1)
#  - a dead rank ends the job; a hung rank makes the others abort after EVA_COMM_TIMEOUT with a
#    clear message; --check-every finds a silent divergence
#  - the gradient all-reduce overlapped with the backward (default) == after it (--no-overlap),
#    bit-identical for any bucket size (with 2 ranks every element is one a + b, commutative);
#    also for eva finetune
#  - --grad-compress bf16: not bit-identical, within 5e-4 of fp32 transfer after 20 steps
#    (measured 7.5e-5: two bf16 roundings of up to 2^-8 relative each, of gradients AdamW normalises)
#  - a stop signal under mpirun (SIGUSR1, which mpirun forwards; SIGINT with
#    odls_base_sigkill_timeout raised, as mpirun turns it into SIGTERM) -> every rank stops after
#    the same step, rank 0 writes a checkpoint, --resume continues
#  - eva diff's exit status.
# Skipped (exit 0, loudly) when mpirun is missing or eva was built without MPI.
EVA=${EVA_BIN:?}
if ! command -v mpirun >/dev/null 2>&1; then
  echo "cli_mpi: SKIPPED: mpirun not found (install Open MPI: apt-get install openmpi-bin libopenmpi-dev)"
  exit 0
fi
if ! ldd "$EVA" 2>/dev/null | grep libmpi >/dev/null; then   # not -q: SIGPIPE + pipefail
  echo "cli_mpi: SKIPPED: $EVA was built without MPI (configure with Open MPI installed)"
  exit 0
fi
source "$(dirname "$0")/lib_cli.sh"
need_tiny_weights

# root in containers / CI; sanitizer builds: Open MPI's own allocations are not ours to report
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
MPI=(mpirun --oversubscribe --bind-to none)

photo_folder "$T/data"
ARGS=(--data "$T/data" --teacher "$W" --width 64 --depth 2 --heads 2 --mlp 128 --patch 14 --size 56
      --epochs 40 --lr 2e-3 --warmup-epochs 2 --drop-path 0 -t 1 --seed 7)
TOL=1e-5
model() { echo "$T/$1/model.safetensors"; }
same() { "$EVA" diff --quiet "$(model "$1")" "$(model "$2")" >"$T/diff" && ok || bad "$3: $(cat "$T/diff")"; }
close() { "$EVA" diff --quiet --tol $TOL "$(model "$1")" "$(model "$2")" >"$T/diff" && ok || bad "$3: $(cat "$T/diff")"; }
run1() { "$EVA" pretrain "${ARGS[@]}" "$@" 2>>"$T/log" || bad "1-rank run $*: $(tail -3 "$T/log")"; }
run2() { "${MPI[@]}" -np 2 "$EVA" pretrain "${ARGS[@]}" "$@" 2>>"$T/log" >/dev/null || bad "2-rank run $*: $(tail -5 "$T/log")"; }

# -- eva diff itself
run1 --batch 8 --steps 20 --out "$T/one"
"$EVA" diff --quiet "$(model one)" "$(model one)" >/dev/null && ok || bad "eva diff: a file differs from itself"
"$EVA" diff --quiet "$(model one)" "$T/nope.safetensors" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "eva diff: a missing file must give status 2"

# -- 2 ranks x 4 == 1 rank x 8 (within TOL), loss per step within 1e-6
run2 --batch 4 --steps 20 --out "$T/two"
close one two "2 ranks x batch 4 vs 1 rank x batch 8"
"$EVA" diff --quiet "$(model one)" "$(model two)" >/dev/null && echo "note: 2 ranks bit-identical to 1 (not required)"
"$EVA" diff "$(model one)" "$(model two)" | tail -1
paste <(sed 's/.*"loss": \([-0-9.e]*\).*/\1/' "$T/one/metrics.jsonl") <(sed 's/.*"loss": \([-0-9.e]*\).*/\1/' "$T/two/metrics.jsonl") |
  awk '{d = $1 - $2; if (d < 0) d = -d; if (d > 1e-6) bad = 1} END {exit bad || NR != 20}' && ok || bad "per-step losses of 1 and 2 ranks differ"
grep -q '"comm_s"' "$T/two/metrics.jsonl" && ok || bad "metrics lack comm_s"
[ "$(wc -l <"$T/two/metrics.jsonl")" -eq 20 ] && ok || bad "rank 0 alone must write metrics (got $(wc -l <"$T/two/metrics.jsonl") lines)"

# -- deterministic: independent of the bucket size and of ZeRO-1 (bit-identical); checksums agree
run2 --batch 4 --steps 20 --deterministic --out "$T/det"
EVA_COMM_BUCKET_MB=0.01 run2 --batch 4 --steps 20 --deterministic --check-every 5 --out "$T/det_small"
same det det_small "deterministic, 25 MB vs 10 KB buckets"
EVA_COMM_BUCKET_MB=0.01 run2 --batch 4 --steps 20 --deterministic --zero1 --out "$T/det_zero"
same det det_zero "deterministic plain vs deterministic ZeRO-1"
close one det "deterministic 2 ranks vs 1 rank"

# -- overlapped (default) vs after the backward, large and small buckets (40 buckets: the hook
#    posts most of them during the backward)
run2 --batch 4 --steps 20 --no-overlap --out "$T/noov"
same two noov "overlapped vs --no-overlap"
run2 --batch 4 --steps 20 --bucket-mb 0.01 --out "$T/ov_small"
same two ov_small "overlapped, 25 MB vs 10 KB buckets"
grep "overlapped with the backward" "$T/log" | tail -1 | grep -q "in flight during the backward 0\.0*[1-9]" && ok ||
  bad "small buckets: nothing was in flight during the backward: $(grep communication "$T/log" | tail -1)"
# -- bf16 transfer: close to fp32, not equal; independent of bucketing and overlap
run2 --batch 4 --steps 20 --grad-compress bf16 --out "$T/bf16"
"$EVA" diff --quiet --tol 5e-4 "$(model two)" "$(model bf16)" >"$T/diff" && ok || bad "bf16 vs fp32 transfer: $(cat "$T/diff")"
"$EVA" diff --quiet "$(model two)" "$(model bf16)" >/dev/null && bad "bf16 transfer is bit-identical to fp32: not compressed?"
echo "bf16 vs fp32 gradient transfer after 20 steps: $("$EVA" diff "$(model two)" "$(model bf16)" | tail -1)"
run2 --batch 4 --steps 20 --grad-compress bf16 --bucket-mb 0.01 --no-overlap --out "$T/bf16_small"
same bf16 bf16_small "bf16: 25 MB overlapped vs 10 KB buckets after the backward"
"${MPI[@]}" -np 2 "$EVA" pretrain "${ARGS[@]}" --batch 4 --steps 2 --zero1 --grad-compress bf16 --out "$T/bad" >/dev/null 2>"$T/err"
[ $? -ne 0 ] && grep -q "default reduction only" "$T/err" && ok || bad "bf16 + ZeRO-1 must be refused: $(head -3 "$T/err")"
# -- eva finetune: overlapped == after the backward
FT=(--data "$T/data" --width 64 --depth 2 --heads 2 --mlp 128 --patch 14 --size 56 --batch 4 --steps 10 -t 1 --seed 3
    --drop-path 0 --lr 1e-3)
"${MPI[@]}" -np 2 "$EVA" finetune "${FT[@]}" --bucket-mb 0.01 --out "$T/ft_ov" >/dev/null 2>>"$T/log" || bad "finetune 2 ranks"
"${MPI[@]}" -np 2 "$EVA" finetune "${FT[@]}" --no-overlap --out "$T/ft_noov" >/dev/null 2>>"$T/log" || bad "finetune --no-overlap"
same ft_ov ft_noov "finetune: overlapped vs --no-overlap"

# -- ZeRO-1 == plain data parallel; memory report; resume on 2 and on 1 rank
run2 --batch 4 --steps 20 --zero1 --out "$T/zero"
same two zero "ZeRO-1 vs plain data parallel"
grep -q "ZeRO-1: AdamW state .* per rank" "$T/log" && ok || bad "no ZeRO-1 memory report"
# interrupted runs: rank R of N dies at its 11th reduction, after the checkpoint of step 10 (the
# schedule spans --steps 20, so the interruption must not change --steps)
killed_at_11() {   # rank world out [flags]
  local r=$1 n=$2 out=$3
  shift 3
  EVA_FAULT_COMM=kill:$r:11 "${MPI[@]}" -np "$n" "$EVA" pretrain "${ARGS[@]}" --steps 20 --ckpt-every 10 --out "$T/$out" "$@" \
    >/dev/null 2>&1 && bad "$out: the fault hook did not stop the run"
  [ -f "$T/$out/ckpt-00000010.safetensors" ] && [ ! -f "$T/$out/model.safetensors" ] && ok || bad "$out: no checkpoint at step 10"
}
killed_at_11 1 2 zero_r --batch 4 --zero1
run2 --resume "$T/zero_r" --steps 20 -t 1 --zero1
same zero zero_r "ZeRO-1 resumed on 2 ranks vs uninterrupted"
killed_at_11 0 2 zero_r1 --batch 4 --zero1
run1 --resume "$T/zero_r1" --steps 20 -t 1
close one zero_r1 "ZeRO-1 checkpoint resumed on 1 rank"

# -- checkpoints move between rank counts (global batch 8 kept)
killed_at_11 1 2 r21 --batch 4
run1 --resume "$T/r21" --steps 20 -t 1
close one r21 "2 ranks -> resumed on 1"
killed_at_11 0 1 r12 --batch 8
run2 --resume "$T/r12" --steps 20 -t 1
close one r12 "1 rank -> resumed on 2"
"${MPI[@]}" -np 3 "$EVA" pretrain --resume "$T/r12" --steps 20 -t 1 >/dev/null 2>"$T/err"
[ $? -ne 0 ] && grep -q "does not split over 3 ranks" "$T/err" && ok || bad "global batch 8 on 3 ranks: $(head -3 "$T/err")"

# -- a rank dies (SIGKILL at its 5th reduction): the job ends, nothing hangs; resume works
start=$(date +%s)
EVA_COMM_TIMEOUT=20 EVA_FAULT_COMM=kill:1:5 "${MPI[@]}" -np 2 "$EVA" pretrain "${ARGS[@]}" --batch 4 --steps 20 \
  --ckpt-every 2 --deterministic --out "$T/killed" >/dev/null 2>"$T/err"
rc=$? took=$(($(date +%s) - start))
[ $rc -ne 0 ] && [ $took -lt 60 ] && ok || bad "dead rank: rc $rc after $took s"
grep -q "dying at reduction 5" "$T/err" && ok || bad "fault hook did not fire: $(tail -5 "$T/err")"
run2 --resume "$T/killed" --steps 20 -t 1 --deterministic
grep -q "resumed from .*ckpt-00000004" "$T/log" && ok || bad "did not resume from step 4"
same det killed "deterministic: killed at step 5 + resumed vs uninterrupted"

# -- a rank hangs: the other aborts after EVA_COMM_TIMEOUT=3 s with a clear message
start=$(date +%s)
EVA_COMM_TIMEOUT=3 EVA_FAULT_COMM=stall:1:3 "${MPI[@]}" -np 2 "$EVA" pretrain "${ARGS[@]}" --batch 4 --steps 20 \
  --out "$T/hung" >/dev/null 2>"$T/err"
rc=$? took=$(($(date +%s) - start))
[ $rc -ne 0 ] && [ $took -lt 60 ] && ok || bad "hung rank: rc $rc after $took s"
grep -q "rank 0 of 2: .* did not complete within 3 s" "$T/err" && ok || bad "no timeout message: $(tail -8 "$T/err")"

# -- --check-every finds parameters that diverged on one rank
EVA_FAULT_COMM=perturb:1:3 "${MPI[@]}" -np 2 "$EVA" pretrain "${ARGS[@]}" --batch 4 --steps 20 --check-every 4 \
  --out "$T/diverged" >/dev/null 2>"$T/err"
rc=$?
[ $rc -ne 0 ] && grep -q "parameters diverged at step 4" "$T/err" && ok || bad "divergence not found: rc $rc $(tail -5 "$T/err")"

# -- stop signals under mpirun: after the first checkpoint, every rank stops after the same step,
#    rank 0 writes a checkpoint there, and --resume continues from it
stop_run() {   # out signal [mpirun options]
  local out=$1 sig=$2
  shift 2
  "${MPI[@]}" "$@" -np 2 "$EVA" pretrain "${ARGS[@]}" --batch 4 --steps 100000 --ckpt-every 5 --out "$T/$out" \
    </dev/null >/dev/null 2>"$T/$out.err" &
  local pid=$! i
  for i in $(seq 300); do [ -f "$T/$out/ckpt-00000005.safetensors" ] && break; sleep 0.1; done
  kill -"$sig" $pid
  wait $pid
  echo $? >"$T/$out.rc"
}
last_ckpt() { ls "$T/$1" | grep '^ckpt-' | tail -1 | sed 's/ckpt-0*\([0-9]*\).safetensors/\1/'; }
stop_run sig_usr1 USR1
[ "$(cat "$T/sig_usr1.rc")" = 130 ] && ok || bad "SIGUSR1 to mpirun: status $(cat "$T/sig_usr1.rc"), want 130: $(tail -5 "$T/sig_usr1.err")"
n=$(grep -c "stopped at step $(last_ckpt sig_usr1);" "$T/sig_usr1.err")
[ "$n" = 2 ] && ok || bad "SIGUSR1: both ranks must stop at the last checkpoint's step (got $n): $(tail -5 "$T/sig_usr1.err")"
stop_run sig_int INT --mca odls_base_sigkill_timeout 5
s=$(last_ckpt sig_int)
rc=$(cat "$T/sig_int.rc")
[ "$rc" -ne 0 ] && [ "$(grep -c "stopped at step $s;" "$T/sig_int.err")" = 2 ] && ok ||
  bad "SIGINT to mpirun: status $rc, last checkpoint $s: $(tail -5 "$T/sig_int.err")"
run2 --resume "$T/sig_int" --steps $((s + 3)) -t 1
grep -q "resumed from .*ckpt-0*$s.safetensors at step $s" "$T/log" && [ -f "$T/sig_int/ckpt-$(printf %08d $((s + 3))).safetensors" ] &&
  [ -f "$(model sig_int)" ] && ok || bad "resume after SIGINT from step $s: $(tail -3 "$T/log")"

# -- the communication summary
grep "communication" "$T/log" | tail -1
finish
