/* cmd_finetune.c — `eva finetune`: a classifier from a pre-trained EVA (or from scratch). */
#include "cli.h"
#include "cli_train.h"
#include "train/comm.h"
#include "train/finetune_run.h"
#include "train/linear_probe.h"
#include "train/randaugment.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

const char help_finetune[] =
    "usage: eva finetune --data TRAIN --out RUN/ [--init PRETRAINED.safetensors] [--val VAL] [options]\n"
    "       eva finetune --resume RUN/ [--steps N] [-t THREADS]\n"
    "\n"
    "EVA-01 fine-tuning (spec §6): mean pooling + fc_norm + a new head (trunc-normal 0.02 x 0.001),\n"
    "layer-wise lr decay (official layer ids), AdamW with the official groups, warm-up + cosine per\n"
    "step, drop path, label smoothing, optional Mixup/CutMix (timm 0.5.4), RandomResizedCrop(0.08-1)\n"
    "+ flip, EMA of the weights, stop_grad_conv1 as the official code (on when fine-tuning --init,\n"
    "off from scratch), the position embedding resampled when --size differs from --init's.\n"
    "DATA: a folder with one sub-folder per class, an IDX file, fashion-mnist:train / :test.\n"
    "options: --size 224 --batch 32 --epochs 10 --steps N --lr 1e-3 --min-lr 1e-6 --warmup-epochs 1\n"
    "         --wd 0.05 --layer-decay 0.75 --drop-path 0.1 --smoothing 0.1 --mixup A --cutmix A\n"
    "         --ema 0.9999 --clip-grad 0 (off) --stop-grad-conv1 0|1 --val-limit N --seed 0\n"
    "         --scale-min 0.08 (RandomResizedCrop area lower bound; small images want more)\n"
    "         -t THREADS --loader-threads 1 --ckpt-every N --keep 3\n"
    "         data parallel (mpirun -np W, docs/distributed.md): --bucket-mb 25 --no-overlap\n"
    "         --grad-compress bf16|none; SIGUSR1 (forwarded by mpirun) stops like Ctrl-C\n"
    "         from scratch: --width 192 --depth 12 --heads 3 --mlp 768 --patch 16\n"
    "         --checkpoint-activations (recompute each block in the backward: less memory, same\n"
    "         result) --precision fp32|bf16 (bf16 operands of the matrix products, fp32 master\n"
    "         weights; emulated where the CPU lacks avx512_bf16)\n"
    "output: RUN/metrics.jsonl (with val_top1 / val_top1_ema after each epoch when --val is given),\n"
    "RUN/ckpt-*.safetensors, RUN/model.safetensors (weights + 'model_ema.*' EMA weights + class\n"
    "names: eva classify / eva eval [--ema] use it).\n"
    "RandAugment: --aa rand-m9-mstd0.5-inc1 = the official recipe (timm 0.5.4: 2 of 15 ops, p 0.5,\n"
    "         magnitude 9 + N(0, 0.5) clipped to 0..10, Pillow-exact ops, bicubic, fill = 255 x mean;\n"
    "         sections m n mstd inc p), after crop + flip. Default --aa none: off, as before (the\n"
    "         other defaults are small-data settings, not the official recipe).\n"
    "linear probe (spec §6, last column): --linear-probe --init PRETRAINED [--optimizer lars|sgd]:\n"
    "         frozen trunk, cls token after the final norm, BatchNorm (no affine) + Linear. Features\n"
    "         are computed once (evaluation transform, no crop / flip), then the head trains on them.\n"
    "         Defaults: LARS (momentum 0.9, trust 1e-3), --epochs 90 --warmup-epochs 10 --wd 0\n"
    "         --min-lr 0 --batch 256 --lr 1.0 x batch / 256 (the spec's lr 1.0 as a base lr, MAE's\n"
    "         rule). RUN/model.safetensors (BN folded into the head) runs in eva eval / classify.\n"
    "         --size, --aa and the fine-tuning options do not apply; no --resume (no checkpoints).\n";

static volatile sig_atomic_t g_stop;
static void on_sigint(int sig) { (void)sig; g_stop = 1; }

/* whether the command line sets FLAG (probe defaults replace the fine-tuning ones otherwise) */
static bool flag_given(int argc, char **argv, const char *flag) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], flag)) return true;
    return false;
}


int cmd_finetune(int argc, char **argv) {
    const char *cmd = "finetune", *resume = NULL, *optimizer = NULL;
    eva_finetune_config c = eva_finetune_defaults();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        int comm;
        int iv;
        double dv;
#define INT_FLAG(flag, field) else if (!strcmp(a, flag)) { ok = cli_take_int(cmd, argc, argv, &i, &iv); c.field = iv; }
#define DBL_FLAG(flag, field) else if (!strcmp(a, flag)) { ok = cli_take_double(cmd, argc, argv, &i, &dv); c.field = dv; }
        if (!strcmp(a, "--data")) ok = cli_take_str(cmd, argc, argv, &i, &c.data);
        else if (!strcmp(a, "--val")) ok = cli_take_str(cmd, argc, argv, &i, &c.val);
        else if (!strcmp(a, "--init")) ok = cli_take_str(cmd, argc, argv, &i, &c.init);
        else if (!strcmp(a, "--checkpoint-activations")) c.checkpoint_activations = true;
        else if (!strcmp(a, "--precision")) ok = cli_take_precision(cmd, argc, argv, &i, &c.bf16);
        else if (!strcmp(a, "--out")) ok = cli_take_str(cmd, argc, argv, &i, &c.out_dir);
        else if (!strcmp(a, "--resume")) ok = cli_take_str(cmd, argc, argv, &i, &resume);
        else if (!strcmp(a, "--aa")) ok = cli_take_str(cmd, argc, argv, &i, &c.aa);
        else if (!strcmp(a, "--linear-probe")) c.linear_probe = true;
        else if (!strcmp(a, "--optimizer")) ok = cli_take_str(cmd, argc, argv, &i, &optimizer);
        INT_FLAG("--width", width) INT_FLAG("--depth", depth) INT_FLAG("--heads", heads) INT_FLAG("--mlp", mlp)
        INT_FLAG("--patch", patch) INT_FLAG("--size", size) INT_FLAG("--batch", batch) INT_FLAG("-b", batch)
        INT_FLAG("--epochs", epochs) INT_FLAG("-t", threads) INT_FLAG("--threads", threads)
        INT_FLAG("--loader-threads", loader_threads) INT_FLAG("--ckpt-every", ckpt_every) INT_FLAG("--keep", keep)
        INT_FLAG("--stop-grad-conv1", stop_grad_conv1)
        DBL_FLAG("--lr", lr) DBL_FLAG("--min-lr", min_lr) DBL_FLAG("--warmup-epochs", warmup_epochs)
        DBL_FLAG("--wd", weight_decay) DBL_FLAG("--layer-decay", layer_decay) DBL_FLAG("--drop-path", drop_path)
        DBL_FLAG("--smoothing", smoothing) DBL_FLAG("--mixup", mixup) DBL_FLAG("--cutmix", cutmix)
        DBL_FLAG("--ema", ema_decay) DBL_FLAG("--clip-grad", clip_grad) DBL_FLAG("--scale-min", scale_min)
        else if (!strcmp(a, "--steps")) { ok = cli_take_double(cmd, argc, argv, &i, &dv); c.steps = (int64_t)dv; }
        else if (!strcmp(a, "--val-limit")) { ok = cli_take_double(cmd, argc, argv, &i, &dv); c.val_limit = (int64_t)dv; }
        else if (!strcmp(a, "--seed")) { ok = cli_take_double(cmd, argc, argv, &i, &dv); c.seed = (uint64_t)dv; }
        else if ((comm = cli_take_comm_flag(cmd, argc, argv, &i, &c.no_overlap, &c.grad_bf16)) != 0) ok = comm > 0;
        else return cli_usage(cmd, "unknown option '%s'", a);
#undef INT_FLAG
#undef DBL_FLAG
        if (!ok) return 2;
    }
    eva_randaug ra;
    if (c.aa && eva_randaug_parse(c.aa, &ra) != EVA_OK) return cli_usage(cmd, "--aa: %s", eva_last_error());
    if (optimizer && strcmp(optimizer, "lars") && strcmp(optimizer, "sgd"))
        return cli_usage(cmd, "--optimizer takes lars or sgd, not '%s'", optimizer);
    if (optimizer && !c.linear_probe) return cli_usage(cmd, "--optimizer applies to --linear-probe (fine-tuning uses AdamW)");
    c.probe_sgd = optimizer && !strcmp(optimizer, "sgd");
    if (c.linear_probe) {
        if (resume) return cli_usage(cmd, "--linear-probe has no --resume (it keeps no checkpoints; rerun it)");
        if (c.aa && ra.num_ops > 0) return cli_usage(cmd, "--linear-probe uses no RandAugment (spec: none); drop --aa");
        if (!c.data) return cli_usage(cmd, "--data is required");
        if (!c.out_dir) return cli_usage(cmd, "--out RUN/ is required");
        if (!c.init) return cli_usage(cmd, "--linear-probe needs --init PRETRAINED (a MIM / EVA model with a final norm)");
        eva_linear_probe_defaults(&c, flag_given(argc, argv, "--lr"), flag_given(argc, argv, "--epochs"),
                                  flag_given(argc, argv, "--warmup-epochs"), flag_given(argc, argv, "--wd"),
                                  flag_given(argc, argv, "--batch") || flag_given(argc, argv, "-b"),
                                  flag_given(argc, argv, "--min-lr"));
        if (c.batch < 1 || c.epochs < 1 || c.steps < 0 || !(c.lr >= 0) || !(c.min_lr >= 0) || !(c.weight_decay >= 0) ||
            !(c.warmup_epochs >= 0))
            return cli_usage(cmd, "a size, count or hyper-parameter is out of range");
        c.stop = &g_stop;
        signal(SIGINT, on_sigint);
        signal(SIGTERM, on_sigint);
        cli_train_display disp = {"finetune", cli_stderr_is_tty(), 0};
        eva_status st = eva_linear_probe_run(&c, cli_train_progress, &disp);
        if (st == EVA_ERR_CANCELLED) {
            fprintf(stderr, "eva finetune: %s\n", eva_last_error());
            return 130;
        }
        if (st != EVA_OK) return cli_lib_error(cmd, st);
        fprintf(stderr, "eva finetune: done; linear probe in %s/model.safetensors\n", c.out_dir);
        return 0;
    }
    if (resume) {
        c.out_dir = resume;
        c.resume = true;
    } else {
        if (!c.data) return cli_usage(cmd, "--data is required");
        if (!c.out_dir) return cli_usage(cmd, "--out RUN/ is required");
    }
    if (c.batch < 1 || c.epochs < 1 || c.size < 1 || c.keep < 1 || c.steps < 0 || !(c.lr >= 0) || !(c.layer_decay > 0) ||
        !(c.scale_min > 0 && c.scale_min <= 1) || !(c.smoothing >= 0 && c.smoothing < 1) || !(c.ema_decay >= 0 && c.ema_decay <= 1) || c.mixup < 0 || c.cutmix < 0)
        return cli_usage(cmd, "a size, count or hyper-parameter is out of range");
    c.world = eva_comm_world();
    c.rank = eva_comm_rank();
    c.stop = &g_stop;
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    signal(SIGUSR1, on_sigint);   /* forwarded by Open MPI's mpirun (SIGINT is not) */
    cli_train_display disp = {"finetune", cli_stderr_is_tty(), 0};
    eva_status st = eva_finetune_run(&c, cli_train_progress, &disp);
    if (st == EVA_ERR_CANCELLED) {
        fprintf(stderr, "eva finetune: %s\n", eva_last_error());
        return 130;
    }
    if (st != EVA_OK) return cli_lib_error(cmd, st);
    if (c.rank == 0) fprintf(stderr, "eva finetune: done; model in %s/model.safetensors\n", c.out_dir);
    return 0;
}
