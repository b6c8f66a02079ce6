/* target.h — the frozen teacher of MIM pre-training, whatever it is: an OpenAI/open_clip CLIP
 * vision tower (EVA-01's target: patch tokens after ln_post @ proj) or any EVA checkpoint eva.c
 * runs (EVA-02 used EVA-CLIP; here: final tokens, after the final norm where the model has one,
 * or the output of block K). Features are [B, G*G, dim] patch rows, cls dropped. */
#ifndef EVA_TRAIN_TARGET_H
#define EVA_TRAIN_TARGET_H

#include "base/base.h"

typedef struct eva_target eva_target;

eva_status eva_target_open(const char *path, int img_size, int block, int threads, eva_target **out);
void eva_target_free(eva_target *t);
int eva_target_rows(const eva_target *t);    /* patches per image */
int eva_target_dim(const eva_target *t);
const char *eva_target_kind(const eva_target *t);   /* "clip" or "eva" */
/* images [B, 3, S, S] (CLIP-normalised) -> out [B, rows, dim] */
eva_status eva_target_features(eva_target *t, const float *images, int B, float *out);

/* The same teacher, precomputed (`eva teacher-cache`, train/teacher_cache.h): kind "cache". */
struct eva_dataset;
eva_status eva_target_open_cache(const char *path, eva_target **out);
/* A cached teacher must replay this run's data stream (no-op for an online teacher). */
eva_status eva_target_check_run(const eva_target *t, const struct eva_dataset *ds, int size, int batch, uint64_t seed, int world,
                                int64_t total_steps);
/* Features for optimizer step `step` whose batch holds dataset samples indices[B]: online, the
 * teacher's forward on images; cached, the stored rows (after checking they are these samples). */
eva_status eva_target_features_at(eva_target *t, int64_t step, const int64_t *indices, const float *images, int B, float *out);

#endif
