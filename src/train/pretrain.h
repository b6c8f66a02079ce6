/* pretrain.h — EVA-01 masked image modeling end to end: data -> augmentation -> block masks ->
 * frozen teacher features -> student forward/backward -> clipped AdamW with the official
 * schedule -> metrics and atomic checkpoints; resumable bit-exactly (same machine and threads).
 *
 * Every random draw is a function of (seed, step, sample): masks use stream (seed ^ MASK, step*B+b),
 * drop path the student's step counter, augmentations (seed, epoch, dataset index), the epoch
 * order (seed, epoch). A run folder holds metrics.jsonl, ckpt-<step>.safetensors (the newest
 * `keep`), and model.safetensors (a plain EVA MIM checkpoint: eva embed / eva finetune read it). */
#ifndef EVA_TRAIN_PRETRAIN_H
#define EVA_TRAIN_PRETRAIN_H

#include "base/base.h"
#include "train/vit_train.h"

#include <signal.h>

typedef struct eva_pretrain_config {
    const char *data;          /* folder, IDX file, or fashion-mnist:train */
    const char *teacher;       /* CLIP vision tower (.pt/.safetensors) or any EVA checkpoint */
    int teacher_block;         /* EVA teacher: features after this block (-1: final tokens) */
    const char *teacher_cache; /* instead of teacher: its features precomputed (teacher_cache.h) */
    const char *out_dir;
    bool resume;               /* continue the newest readable checkpoint in out_dir */
    /* student */
    int width, depth, heads, mlp, patch, size;
    /* recipe */
    int batch;                 /* per process, as in the official scripts */
    int epochs;
    int64_t steps;             /* stop after this many optimizer steps in total (0: all epochs) */
    double lr, min_lr, warmup_epochs, weight_decay, clip_grad, drop_path;
    int mask_count;            /* masked patches per image; 0: from mask_ratio */
    double mask_ratio;         /* official 105/256 */
    int min_block;             /* 0: 16 scaled to the grid */
    uint64_t seed;
    int threads, loader_threads;
    int ckpt_every, keep;      /* steps between checkpoints (0: only at the end), newest kept */
    int world, rank;           /* data parallel (1, 0 without MPI) */
    bool deterministic;        /* fixed-order gradient reduction (comm.h) */
    bool zero1;                /* AdamW state sharded over the ranks (ZeRO stage 1) */
    int check_every;           /* compare a parameter checksum across ranks every K steps (0: off) */
    bool no_overlap;           /* reduce after the backward instead of during it (measurements) */
    bool grad_bf16;            /* gradients travel as bf16 (comm.h eva_comm_set_compress) */
    bool checkpoint_activations;   /* recompute block activations in the backward (less memory) */
    bool bf16;                 /* bf16 mixed precision (vit_train.h); recorded, kept on resume */
    volatile sig_atomic_t *stop;   /* set asynchronously (SIGINT): checkpoint and return */
} eva_pretrain_config;

eva_pretrain_config eva_pretrain_defaults(void);

/* Shape of a student parameter by its official name (for writing model files). Returns ndim. */
int eva_vit_train_param_shape(const eva_vit_train_config *c, const char *name, int64_t shape[4]);

typedef struct eva_train_progress {
    int64_t step, total_steps, epoch;
    double lr, loss, grad_norm, images_per_s, eta_s, elapsed_s;
    const char *event;         /* NULL for a step; "checkpoint", "resumed", "warning" otherwise */
    const char *message;
} eva_train_progress;

typedef void (*eva_train_progress_fn)(const eva_train_progress *p, void *user);

/* Runs (or resumes) a pre-training. Returns EVA_ERR_CANCELLED after a stop request (a final
 * checkpoint was written). */
eva_status eva_pretrain_run(const eva_pretrain_config *cfg, eva_train_progress_fn fn, void *user);

#endif
