/* checkpoint.h — training checkpoints in a run folder: RUN/ckpt-<step>.safetensors holding every
 * parameter ("param.<name>"), the AdamW moments ("adam.m.<name>", "adam.v.<name>") and string
 * metadata (step, epoch, data position, seed, the run's configuration), written atomically
 * (temp file, fsync, rename). The newest K are kept. Loading walks from the newest down and
 * skips (with a warning) files that are damaged, so a crash while writing loses nothing. */
#ifndef EVA_TRAIN_CHECKPOINT_H
#define EVA_TRAIN_CHECKPOINT_H

#include "train/optim.h"

typedef struct eva_kv {
    char key[64];
    char value[448];
} eva_kv;

typedef struct eva_ckpt_meta {
    eva_kv items[64];
    int n;
} eva_ckpt_meta;

void eva_meta_set(eva_ckpt_meta *m, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *eva_meta_get(const eva_ckpt_meta *m, const char *key);
int64_t eva_meta_get_i64(const eva_ckpt_meta *m, const char *key, int64_t fallback);
double eva_meta_get_f64(const eva_ckpt_meta *m, const char *key, double fallback);

/* Write RUN/ckpt-<step>.safetensors and delete all but the newest keep_last (>= 1). opt may be
 * NULL (weights only). */
eva_status eva_ckpt_save(const char *run_dir, int64_t step, const eva_param_ref *params, int n, eva_adamw *opt,
                         const eva_ckpt_meta *meta, int keep_last);

/* Restore params (+ optimizer moments and step count when opt != NULL) and meta from the newest
 * readable checkpoint in run_dir. *path_out (cap bytes) names the one used; *skipped counts
 * damaged newer ones (a warning was logged for each). EVA_ERR_MISSING if there is none. */
eva_status eva_ckpt_load_latest(const char *run_dir, const eva_param_ref *params, int n, eva_adamw *opt,
                                eva_ckpt_meta *meta, char *path_out, size_t cap, int *skipped);

/* Same with extra tensors saved and restored alongside (e.g. the EMA weights: "extra.<name>"). */
eva_status eva_ckpt_save_extra(const char *run_dir, int64_t step, const eva_param_ref *params, int n, eva_adamw *opt,
                               const eva_param_ref *extra, int n_extra, const eva_ckpt_meta *meta, int keep_last);
eva_status eva_ckpt_load_latest_extra(const char *run_dir, const eva_param_ref *params, int n, eva_adamw *opt,
                                      const eva_param_ref *extra, int n_extra, eva_ckpt_meta *meta, char *path_out,
                                      size_t cap, int *skipped);

/* Write a plain model file (official names, F32, shapes[i][0..params[i].ndim), __metadata__ from
 * meta) atomically: what eva_model_load and the other commands read. */
eva_status eva_save_params(const char *path, const eva_param_ref *params, const int64_t (*shapes)[4], int n,
                           const eva_ckpt_meta *meta);

/* Test hook: after EVA_FAULT_WRITE_BYTES bytes (environment), checkpoint writes fail as on a full
 * disk. Used by the tests to show that a failed write loses nothing. */

/* RUN/metrics.jsonl: append one line; on resume drop lines past the checkpoint's step. */
eva_status eva_metrics_append(const char *run_dir, const char *line);
void eva_metrics_truncate(const char *run_dir, int64_t last_step);

#endif
