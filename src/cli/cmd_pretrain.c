/* cmd_pretrain.c — `eva pretrain`: EVA-01 masked image modeling from a folder of images and a
 * teacher. The loop lives in src/train/pretrain.c; this file parses flags, shows progress and
 * turns SIGINT into "checkpoint and stop". */
#include "cli.h"
#include "cli_train.h"
#include "train/comm.h"
#include "train/pretrain.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

const char help_pretrain[] =
    "usage: eva pretrain --data DATA (--teacher T | --teacher-cache CACHE) --out RUN/ [options]\n"
    "       eva pretrain --resume RUN/ [--steps N] [-t THREADS]\n"
    "\n"
    "EVA-01 masked image modeling: the student regresses the teacher's patch features at\n"
    "block-masked positions (loss = -mean cosine over all masked tokens), AdamW with the official\n"
    "groups, per-step warm-up + cosine schedule, global-norm clipping, drop path.\n"
    "  DATA: an image folder (recursive), an IDX file, or fashion-mnist:train (Debian's\n"
    "        dataset-fashion-mnist). Augmentation: flip 0.5, RandomResizedCrop(0.2-1), bicubic.\n"
    "  T:    a CLIP vision tower (OpenAI/open_clip names; EVA-01's target: patch tokens after\n"
    "        ln_post @ proj) or any EVA checkpoint (final tokens, or --teacher-block K). Its patch\n"
    "        grid at --size must equal the student's.\n"
    "--teacher-cache CACHE instead of --teacher: the teacher's features precomputed by\n"
    "        eva teacher-cache for this run's --data --size --batch --seed (one process); a cache\n"
    "        made for another stream is refused. With an f32 cache the weights are bit-identical\n"
    "        to the online teacher's run.\n"
    "student: --width 192 --depth 12 --heads 3 --mlp 768 --patch 16 --size 224\n"
    "recipe:  --batch 32 (per process) --epochs 150 --steps N (stop after N optimizer steps)\n"
    "         --lr (default 1e-3 x global batch / 4096) --min-lr (1e-5 x same)\n"
    "         --warmup-epochs (2 of 150, scaled) --wd 0.05 --clip-grad 3.0 --drop-path 0.1\n"
    "         --mask-count K | --mask-ratio R (105/256) --min-block (16 scaled to the grid)\n"
    "         --seed 0 -t THREADS --loader-threads 1\n"
    "memory/speed: --checkpoint-activations (recompute each block in the backward: activation\n"
    "         memory / ~depth for ~1/3 more compute; results identical)\n"
    "         --precision fp32|bf16 (bf16: matrix-product operands rounded to bf16, fp32\n"
    "         accumulation, fp32 master weights/optimizer; emulated where the CPU lacks avx512_bf16)\n"
    "output:  RUN/metrics.jsonl (step, epoch, lr, loss, grad norm, images/s, ETA),\n"
    "         RUN/ckpt-<step>.safetensors every --ckpt-every N steps and at the end (newest --keep 3\n"
    "         kept; weights + AdamW state + data position), RUN/model.safetensors (an EVA MIM\n"
    "         checkpoint: eva embed and eva finetune use it).\n"
    "--resume RUN/ continues from the newest readable checkpoint with the run's own settings,\n"
    "bit-exactly on the same machine and thread count (a damaged newest checkpoint is skipped\n"
    "with a warning). Ctrl-C writes a checkpoint and exits (status 130).\n"
    "data parallel (docs/distributed.md): mpirun -np W eva pretrain ... (or srun); --batch is per\n"
    "rank, global batch = W x batch; rank 0 writes metrics and checkpoints, which resume on any W\n"
    "dividing the global batch.\n"
    "         --deterministic  fixed-order gradient reduction (bit-identical reruns and resumes)\n"
    "         --zero1          shard the AdamW state over the ranks (ZeRO stage 1)\n"
    "         --check-every K  compare a parameter checksum across ranks every K steps\n"
    "         --bucket-mb 25   gradient all-reduce bucket size (MB)\n"
    "         --no-overlap     all-reduce after the backward instead of during it (measurements)\n"
    "         --grad-compress bf16|none  gradients travel as bf16 (half the bytes; default none)\n"
    "         Ctrl-C under Open MPI's mpirun: mpirun sends SIGTERM 1 s later and SIGKILL 1 s after\n"
    "         that; for a clean stop send SIGUSR1 to mpirun (forwarded: every rank stops after the\n"
    "         step, rank 0 writes a checkpoint) or raise --mca odls_base_sigkill_timeout.\n"
    "         env EVA_COMM_TIMEOUT=300 (s: a rank stuck in a collective that long aborts the job),\n"
    "         EVA_COMM_BUCKET_MB=25 (all-reduce bucket size)\n";

static volatile sig_atomic_t g_stop;
static void on_sigint(int sig) { (void)sig; g_stop = 1; }


int cmd_pretrain(int argc, char **argv) {
    const char *cmd = "pretrain";
    eva_pretrain_config c = eva_pretrain_defaults();
    const char *resume = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        int comm;
        int iv;
        double dv;
#define INT_FLAG(flag, field) else if (!strcmp(a, flag)) { ok = cli_take_int(cmd, argc, argv, &i, &iv); c.field = iv; }
#define DBL_FLAG(flag, field) else if (!strcmp(a, flag)) { ok = cli_take_double(cmd, argc, argv, &i, &dv); c.field = dv; }
        if (!strcmp(a, "--data")) ok = cli_take_str(cmd, argc, argv, &i, &c.data);
        else if (!strcmp(a, "--teacher")) ok = cli_take_str(cmd, argc, argv, &i, &c.teacher);
        else if (!strcmp(a, "--teacher-cache")) ok = cli_take_str(cmd, argc, argv, &i, &c.teacher_cache);
        else if (!strcmp(a, "--out")) ok = cli_take_str(cmd, argc, argv, &i, &c.out_dir);
        else if (!strcmp(a, "--resume")) ok = cli_take_str(cmd, argc, argv, &i, &resume);
        INT_FLAG("--width", width) INT_FLAG("--depth", depth) INT_FLAG("--heads", heads) INT_FLAG("--mlp", mlp)
        INT_FLAG("--patch", patch) INT_FLAG("--size", size) INT_FLAG("--batch", batch) INT_FLAG("-b", batch)
        INT_FLAG("--epochs", epochs) INT_FLAG("--mask-count", mask_count) INT_FLAG("--min-block", min_block)
        INT_FLAG("-t", threads) INT_FLAG("--threads", threads) INT_FLAG("--loader-threads", loader_threads)
        INT_FLAG("--ckpt-every", ckpt_every) INT_FLAG("--keep", keep) INT_FLAG("--teacher-block", teacher_block)
        DBL_FLAG("--lr", lr) DBL_FLAG("--min-lr", min_lr) DBL_FLAG("--warmup-epochs", warmup_epochs)
        DBL_FLAG("--wd", weight_decay) DBL_FLAG("--clip-grad", clip_grad) DBL_FLAG("--drop-path", drop_path)
        DBL_FLAG("--mask-ratio", mask_ratio)
        else if (!strcmp(a, "--deterministic")) c.deterministic = true;
        else if (!strcmp(a, "--zero1")) c.zero1 = true;
        else if (!strcmp(a, "--checkpoint-activations")) c.checkpoint_activations = true;
        else if (!strcmp(a, "--precision")) ok = cli_take_precision(cmd, argc, argv, &i, &c.bf16);
        INT_FLAG("--check-every", check_every)
        else if ((comm = cli_take_comm_flag(cmd, argc, argv, &i, &c.no_overlap, &c.grad_bf16)) != 0) ok = comm > 0;
        else if (!strcmp(a, "--steps")) { ok = cli_take_double(cmd, argc, argv, &i, &dv); c.steps = (int64_t)dv; }
        else if (!strcmp(a, "--seed")) { ok = cli_take_double(cmd, argc, argv, &i, &dv); c.seed = (uint64_t)dv; }
        else return cli_usage(cmd, "unknown option '%s'", a);
#undef INT_FLAG
#undef DBL_FLAG
        if (!ok) return 2;
    }
    if (resume) {
        if (c.out_dir && strcmp(c.out_dir, resume)) return cli_usage(cmd, "--resume RUN/ already names the run folder");
        c.out_dir = resume;
        c.resume = true;
        /* data/teacher come from the flags or the checkpoint's record */
    } else {
        if (!c.data) return cli_usage(cmd, "--data is required");
        if (!c.teacher && !c.teacher_cache) return cli_usage(cmd, "--teacher (or --teacher-cache) is required");
        if (!c.out_dir) return cli_usage(cmd, "--out RUN/ is required");
    }
    if (c.batch < 1 || c.epochs < 1 || c.width < 1 || c.depth < 1 || c.heads < 1 || c.mlp < 1 || c.patch < 1 ||
        c.size < 1 || c.keep < 1 || c.steps < 0 || c.threads < 0 || c.check_every < 0)
        return cli_usage(cmd, "sizes, counts and steps must be positive");
    if (c.mask_ratio <= 0 || c.mask_ratio >= 1) return cli_usage(cmd, "--mask-ratio must be in (0, 1)");
    if (c.teacher && c.teacher_cache) return cli_usage(cmd, "give --teacher or --teacher-cache, not both");
    c.world = eva_comm_world();
    c.rank = eva_comm_rank();
    c.stop = &g_stop;
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    signal(SIGUSR1, on_sigint);   /* forwarded by Open MPI's mpirun (SIGINT is not) */
    cli_train_display ps = {"pretrain", cli_stderr_is_tty(), 0};
    eva_status st = eva_pretrain_run(&c, c.rank == 0 ? cli_train_progress : NULL, &ps);
    if (st == EVA_ERR_CANCELLED) {
        fprintf(stderr, "%seva pretrain: %s\n", ps.tty ? "\n" : "", eva_last_error());
        return 130;
    }
    if (st != EVA_OK) {
        if (ps.tty) fputc('\n', stderr);
        return cli_lib_error(cmd, st);
    }
    if (c.rank == 0) fprintf(stderr, "eva pretrain: done; model in %s/model.safetensors\n", c.out_dir);
    return 0;
}
