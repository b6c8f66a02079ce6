/* data.h — training data: datasets (image folders, IDX files such as Debian's Fashion-MNIST),
 * the official augmentations, and a threaded, seeded loader with a prefetch queue.
 *
 * Reproducibility: a sample's augmentation draws come from its own Philox stream keyed by
 * (seed, epoch, dataset index), and the epoch order from (seed, epoch), so a batch's content does
 * not depend on thread scheduling, on the number of loader threads, or on where a run was resumed.
 * Distributed runs: rank r of W takes positions r, r+W, r+2W, ... of the epoch permutation
 * (disjoint shards; global batch = per-rank batch x W). */
#ifndef EVA_TRAIN_DATA_H
#define EVA_TRAIN_DATA_H

#include "base/base.h"
#include "train/randaugment.h"

typedef struct eva_dataset eva_dataset;

/* spec: a directory (recursive; class = first-level sub-folder name, sorted; images directly in
 * the root get class 0 when there are no sub-folders), an IDX image file ("...-images-idx3-ubyte"
 * or ".gz"; the labels file is the same name with "labels-idx1"), or "fashion-mnist:train" /
 * "fashion-mnist:test" for /usr/share/datasets/fashion-mnist. Fails on an empty dataset. */
eva_status eva_dataset_open(const char *spec, eva_dataset **out);
void eva_dataset_free(eva_dataset *ds);
int64_t eva_dataset_size(const eva_dataset *ds);
int eva_dataset_classes(const eva_dataset *ds);
const char *eva_dataset_class_name(const eva_dataset *ds, int c);
int eva_dataset_label(const eva_dataset *ds, int64_t i);
/* Decoded 8-bit RGB (grey replicated). Caller frees with eva_image_free. */
eva_status eva_dataset_image(const eva_dataset *ds, int64_t i, eva_image *out);
const char *eva_dataset_path(const eva_dataset *ds, int64_t i);   /* NULL for IDX samples */

/* Augmentations. */
typedef enum eva_aug_kind {
    EVA_AUG_MIM = 0,      /* pre-training: flip(0.5) then RandomResizedCrop(scale 0.2-1, ratio 3/4-4/3) */
    EVA_AUG_FINETUNE,     /* fine-tuning: RandomResizedCrop(0.08-1) + flip (RandAugment etc. in finetune) */
    EVA_AUG_EVAL,         /* evaluation transform (resize + centre crop) */
} eva_aug_kind;

typedef struct eva_aug_params {
    eva_aug_kind kind;
    int size;
    float scale_min, scale_max, ratio_min, ratio_max, flip_p;
    float crop_pct;       /* EVAL only */
    float mean[3], std[3];
    eva_randaug randaug;  /* FINETUNE only: after crop + flip, before normalising (num_ops 0: off) */
} eva_aug_params;

eva_aug_params eva_aug_defaults(eva_aug_kind kind, int size);
/* torchvision RandomResizedCrop.get_params: 10 attempts (area ~ U(scale) * A, log-uniform ratio,
 * w = round(sqrt(a r)), h = round(sqrt(a / r)), accepted if it fits, top/left uniform), then the
 * centre fallback (ratio clamped). Returns x0, y0, w, h. */
void eva_rrc_params(int W, int H, const eva_aug_params *p, eva_rng *rng, int *x0, int *y0, int *w, int *h);
/* Augment one decoded image into out [3, S, S] (normalised float) — the box is cut and resized with
 * Pillow's fixed-point bicubic, exactly as PIL crop + resize; FINETUNE then applies RandAugment
 * when p->randaug is on (fill = round(255 x mean)), drawing from the same rng after the crop. */
eva_status eva_augment(const eva_image *img, const eva_aug_params *p, eva_rng *rng, float *out);

/* The loader. */
typedef struct eva_loader eva_loader;
typedef struct eva_loader_params {
    int batch;
    int threads;          /* decode/augment workers (>= 1) */
    int prefetch;         /* batches kept ready (>= 1) */
    uint64_t seed;
    bool shuffle;
    bool drop_last;       /* training: only full batches */
    int rank, world;      /* distributed sharding (0, 1 for one process) */
    eva_aug_params aug;
} eva_loader_params;

eva_status eva_loader_create(const eva_dataset *ds, const eva_loader_params *p, eva_loader **out);
void eva_loader_free(eva_loader *l);
/* Batches per epoch for this rank. */
int64_t eva_loader_batches_per_epoch(const eva_loader *l);
/* Position the loader at (epoch, batch index within the epoch): used at start and on resume. */
eva_status eva_loader_seek(eva_loader *l, int64_t epoch, int64_t batch);
/* Next batch: images [batch, 3, S, S], labels [batch], indices [batch] (dataset index; may be
 * NULL). Advances to the next epoch after the last batch. *n_out = rows filled (< batch only on
 * the last batch without drop_last). Unreadable samples are replaced by the next readable one
 * in the shard order and counted (eva_loader_bad_count). */
eva_status eva_loader_next(eva_loader *l, float *images, int *labels, int64_t *indices, int *n_out, int64_t *epoch_out);
int64_t eva_loader_bad_count(const eva_loader *l);

#endif
