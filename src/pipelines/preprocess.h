/* preprocess.h — the EVA / timm evaluation transform on 8-bit RGB images, bit-exact with
 * Pillow 9.4 + torchvision (golden README §6, spec §3.2). Public entry points are in eva.h;
 * these are the pieces, exposed for tests and for the batch pipelines. */
#ifndef EVA_PIPELINES_PREPROCESS_H
#define EVA_PIPELINES_PREPROCESS_H

#include "base/base.h"

/* Pillow's fixed-point bicubic resize (Resample.c, a = -0.5, 22 fractional bits) of an RGB8
 * image [H, W, 3] to [OH, OW, 3], computing only the output window rows [y0, y0+wh) x columns
 * [x0, x0+ww) into dst [wh, ww, 3]. Two passes, horizontal first with a uint8 intermediate; a
 * pass is skipped when that axis keeps its size (as Pillow does). The window must lie inside
 * the output. The reference version is plain C and single-threaded. */
eva_status eva_resize_bicubic_u8(const uint8_t *src, int W, int H, int OW, int OH,
                                 int x0, int y0, int ww, int wh, uint8_t *dst);

/* torchvision Resize(s) output size for a W x H image (shorter side to s, the other
 * int(s * long / short)). */
void eva_resize_shorter_size(int W, int H, int s, int *OW, int *OH);

/* torchvision CenterCrop offset along one axis of length n for crop c: round-half-even of
 * (n - c) / 2 when n >= c, else -((c - n) / 2) (zero padding on the left/top). */
int eva_center_crop_offset(int n, int c);

/* floor(size / crop_pct) as Python computes it (double division). */
int eva_scale_size(int size, float crop_pct);

/* The uint8 crop [S, S, 3] for params p (resize + center crop, zero padded if needed). Uses
 * size, crop_pct and squash only (mean/std may be left zero). */
eva_status eva_preprocess_crop_u8(const eva_image *img, const eva_preprocess_params *p, uint8_t *crop);

/* ToTensor + Normalize: crop [S*S, 3] uint8 -> out [3, S, S] float32. */
void eva_normalize_chw(const uint8_t *crop, int S, const float mean[3], const float std[3], float *out);

/* Validate a params struct (size range, crop_pct > 0, std != 0). */
eva_status eva_preprocess_check(const eva_preprocess_params *p);

#endif
