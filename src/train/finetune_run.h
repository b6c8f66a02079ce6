/* finetune_run.h — `eva finetune`: see finetune_run.c. */
#ifndef EVA_TRAIN_FINETUNE_RUN_H
#define EVA_TRAIN_FINETUNE_RUN_H

#include "train/pretrain.h"

typedef struct eva_finetune_config {
    const char *data, *val, *init, *out_dir;
    bool resume;
    int width, depth, heads, mlp, patch, size;   /* from scratch; taken from --init otherwise */
    int batch, epochs;
    int64_t steps;
    double lr, min_lr, warmup_epochs, weight_decay, layer_decay, drop_path, clip_grad;
    double smoothing, mixup, cutmix, ema_decay;
    double scale_min;          /* RandomResizedCrop area range lower bound (official 0.08) */
    const char *aa;            /* RandAugment, timm config string ("rand-m9-mstd0.5-inc1"); NULL / "none": off */
    bool linear_probe;         /* eva_linear_probe_run (linear_probe.h) instead of fine-tuning */
    bool probe_sgd;            /* linear probe: SGD + momentum instead of LARS */
    int stop_grad_conv1;       /* -1: on with --init (official), off from scratch */
    int64_t val_limit;         /* evaluate on the first N validation samples (0: all) */
    uint64_t seed;
    int threads, loader_threads, ckpt_every, keep, world, rank;
    bool checkpoint_activations;   /* recompute block activations in the backward (less memory) */
    bool bf16;                 /* bf16 mixed precision (vit_train.h); recorded, kept on resume */
    bool no_overlap;           /* data parallel: reduce after the backward, not during it */
    bool grad_bf16;            /* data parallel: gradients travel as bf16 (comm.h) */
    volatile sig_atomic_t *stop;
} eva_finetune_config;

eva_finetune_config eva_finetune_defaults(void);
eva_status eva_finetune_run(const eva_finetune_config *cfg, eva_train_progress_fn fn, void *user);

#endif
