/* masking.h — EVA-01 / BEiT block-wise masking generator (masking_generator.py, golden
 * README-train-clip §2.2), driven by eva_rng instead of Python's `random`: the same algorithm
 * and the same distribution, not the same bits.
 *
 * A mask is H*W bytes, row-major (index = row*W + col), 1 = masked. */
#ifndef EVA_TRAIN_MASKING_H
#define EVA_TRAIN_MASKING_H

#include "base/base.h"

typedef struct eva_mask_config {
    int height, width;            /* patch grid H x W (official: 16 x 16) */
    int num_masking_patches;      /* target count (official: 105) */
    int min_num_patches;          /* smallest block area drawn (official: 16) */
    int max_num_patches;          /* largest block area; <= 0: num_masking_patches */
    double min_aspect;            /* aspect h/w drawn log-uniformly in [min, max] (official 0.3) */
    double max_aspect;            /* <= 0: 1/min_aspect */
} eva_mask_config;

/* The official pre-training parameters (16x16, 105, 16, None, 0.3, None). */
eva_mask_config eva_mask_config_official(void);

/* Check a configuration; fills the defaults (max_num_patches, max_aspect) in place.
 * EVA_ERR_INVALID_ARG with a message naming the bad field. */
eva_status eva_mask_config_resolve(eva_mask_config *cfg);

/* Draw one mask into mask[H*W] (cfg must be resolved). Returns the number of masked cells,
 * which is <= num_masking_patches and may be lower (the official generator gives up after
 * 10 failed attempts in a row). */
int eva_mask_generate(const eva_mask_config *cfg, eva_rng *rng, uint8_t *mask);

/* Draw n masks into masks[n*H*W]; mask i uses its own stream eva_rng_make(seed, i), so any
 * subset can be regenerated independently. counts (optional) receives each mask's count. */
eva_status eva_mask_generate_batch(const eva_mask_config *cfg, uint64_t seed, int64_t n,
                                   uint8_t *masks, int *counts);

#endif
