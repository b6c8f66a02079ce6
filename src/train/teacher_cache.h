/* teacher_cache.h — precomputed teacher features for MIM pre-training (`eva teacher-cache`).
 *
 * The pre-training loader's augmentation is random per epoch but seeded (data.h), so the exact
 * crops a run will see at step k are known in advance: the cache replays that stream (same data,
 * --size, --batch, --seed, one process) through the frozen teacher once and stores, per
 * (step, sample), the dataset index, a hash of the augmented image and the teacher's patch
 * features. `eva pretrain --teacher-cache FILE` then reads the rows of its step instead of running
 * the teacher; with an f32 cache the student's weights are bit-identical to an online run.
 *
 * File (little-endian):
 *   header, 4096 bytes: "EVATCACH", version, dtype (0 f32, 1 f16), size, rows (= G*G), dim, batch,
 *     world (1), teacher block, steps, dataset samples, batches per epoch, seed, dataset
 *     fingerprint, record bytes, header checksum, data spec and teacher path (informational)
 *   steps records, each: int64 index[B], uint64 image_hash[B], features [B, rows, dim] in dtype
 *   size = 4096 + steps * B * (16 + rows * dim * (f16 ? 2 : 4)) bytes.
 * Written streamed through a temp file + rename; read one record at a time (pread), so a resumed
 * run starts at any step. Every header field is checked as untrusted input. */
#ifndef EVA_TRAIN_TEACHER_CACHE_H
#define EVA_TRAIN_TEACHER_CACHE_H

#include "base/base.h"
#include "train/data.h"
#include "train/pretrain.h"

#include <signal.h>

#define EVA_TCACHE_HEADER_BYTES 4096

typedef struct eva_teacher_cache_info {
    int version;
    bool f16;
    int size, rows, dim, batch, world, teacher_block;
    int64_t steps, samples, per_epoch;
    uint64_t seed, data_fingerprint, record_bytes, file_bytes;
    char data[1024], teacher[1024], teacher_kind[16];
} eva_teacher_cache_info;

/* ---- building a cache */
typedef struct eva_teacher_cache_config {
    const char *data, *teacher, *out;
    int teacher_block;            /* -1: final tokens (as eva pretrain --teacher-block) */
    int size, batch, epochs;      /* as eva pretrain; epochs used when steps == 0 */
    int64_t steps;
    uint64_t seed;
    int threads, loader_threads;
    bool f16;
    volatile sig_atomic_t *stop;  /* set asynchronously: abandon (no output file) */
} eva_teacher_cache_config;

eva_teacher_cache_config eva_teacher_cache_defaults(void);
/* Progress through fn: step, total_steps, epoch, images_per_s, eta_s, elapsed_s (loss unused). */
eva_status eva_teacher_cache_build(const eva_teacher_cache_config *cfg, eva_train_progress_fn fn, void *user);

/* ---- reading a cache */
typedef struct eva_teacher_cache eva_teacher_cache;

eva_status eva_teacher_cache_open(const char *path, eva_teacher_cache **out);
void eva_teacher_cache_free(eva_teacher_cache *tc);
const eva_teacher_cache_info *eva_teacher_cache_get_info(const eva_teacher_cache *tc);
/* Refuses (one line naming the first difference) a cache made for another stream than this run's:
 * world, size, batch, seed, dataset size and fingerprint, or fewer steps than total_steps. */
eva_status eva_teacher_cache_check(const eva_teacher_cache *tc, const eva_dataset *ds, int size, int batch, uint64_t seed,
                                   int world, int64_t total_steps);
/* Features of step `step`: checks that the loader gave the cached samples (indices and image
 * hashes of images [B, 3, S, S]), then out [B, rows, dim] as float32. */
eva_status eva_teacher_cache_read(eva_teacher_cache *tc, int64_t step, int B, const int64_t *indices, const float *images,
                                  float *out);

/* Helpers shared by writer and reader. */
uint64_t eva_tcache_image_hash(const float *img, size_t n);
uint64_t eva_tcache_dataset_fingerprint(const eva_dataset *ds);

#endif
