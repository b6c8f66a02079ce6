/* randaugment.h — timm 0.5.4 RandAugment (`rand-m9-mstd0.5-inc1`, spec §6 "Training augmentation")
 * on 8-bit RGB images [H, W, 3] (HWC, row-major), with the PIL semantics of every op.
 *
 * Per image: n ops drawn uniformly WITH replacement from the 15 ops below (the "increasing" list
 * when inc is set); each is applied with probability p; when applied, its magnitude is
 * m + N(0, mstd) (drawn per application; mstd > 100 or inf: U(0, m)) clipped to [0, 10], then
 * turned into the op argument (_MAX_LEVEL 10):
 *   Rotate  deg = m/10 * 30, sign flipped with prob 0.5      ShearX/Y  f = m/10 * 0.3, signed
 *   TranslateX/YRel  pct = m/10 * 0.45 (x image size), signed
 *   Posterize  bits = int(m/10 * 4); increasing: 4 - that    Solarize  thr = int(m/10 * 256);
 *   increasing: 256 - that      SolarizeAdd  add = int(m/10 * 110), threshold 128
 *   Color/Contrast/Brightness/Sharpness  factor = m/10 * 1.8 + 0.1; increasing: 1 +- m/10 * 0.9
 *   AutoContrast, Equalize, Invert: no argument.
 * Geometric ops use PIL's affine transform with bicubic sampling (the EVA recipe passes
 * interpolation='bicubic', so timm never draws bilinear) and fill = round(255 x mean) of the
 * model's normalisation mean ((123, 117, 104) for CLIP's).
 *
 * Randomness comes from the caller's Philox stream (the loader's per-sample stream), so runs are
 * reproducible and resume bit-exactly: per image, n op indices (eva_rng_below(15)), then per op
 * one uniform for the p test and, if applied, one normal (when 0 < mstd <= 100) or uniform (mstd
 * > 100) for the magnitude and one uniform for the sign of signed ops. */
#ifndef EVA_TRAIN_RANDAUGMENT_H
#define EVA_TRAIN_RANDAUGMENT_H

#include "base/base.h"

typedef enum eva_ra_op {
    EVA_RA_AUTOCONTRAST = 0,
    EVA_RA_EQUALIZE,
    EVA_RA_INVERT,
    EVA_RA_ROTATE,
    EVA_RA_POSTERIZE,
    EVA_RA_SOLARIZE,
    EVA_RA_SOLARIZE_ADD,
    EVA_RA_COLOR,
    EVA_RA_CONTRAST,
    EVA_RA_BRIGHTNESS,
    EVA_RA_SHARPNESS,
    EVA_RA_SHEAR_X,
    EVA_RA_SHEAR_Y,
    EVA_RA_TRANSLATE_X_REL,
    EVA_RA_TRANSLATE_Y_REL,
    EVA_RA_OP_COUNT
} eva_ra_op;

typedef struct eva_randaug {
    int num_ops;            /* n (timm default 2); 0 = RandAugment off */
    double magnitude;       /* m (default 10) */
    double magnitude_std;   /* mstd (default 0); > 100 or inf: uniform in [0, m] */
    double prob;            /* p (default 0.5) */
    bool increasing;        /* inc: the *Increasing variants */
} eva_randaug;

/* timm config string: "rand" then '-'-separated sections KEYVALUE with KEY one of m, n, mstd,
 * inc, p (e.g. "rand-m9-mstd0.5-inc1"); "none" or "" turns RandAugment off. Unknown keys, values
 * out of range (n 0..16, m 0..10... any m >= 0 is clipped per op, p in [0, 1]) fail.
 * inc0 selects the plain list (timm's bool("0") would still pick the increasing one; nobody
 * writes inc0 in practice). */
eva_status eva_randaug_parse(const char *spec, eva_randaug *out);
/* The canonical string for metadata ("none" or "rand-m9-n2-mstd0.5-p0.5-inc1"). */
void eva_randaug_format(const eva_randaug *ra, char *buf, size_t cap);
/* fill = min(255, round-half-even(255 x mean)) per channel, as timm's img_mean. */
void eva_randaug_fill(const float mean[3], uint8_t fill[3]);
/* Apply RandAugment in place to img [H, W, 3]. */
eva_status eva_randaug_apply(const eva_randaug *ra, const uint8_t fill[3], eva_rng *rng, uint8_t *img, int W, int H);

/* The op argument for a clipped magnitude (negate: the random sign draw came out "flip").
 * Returns 0 for the argument-free ops. */
double eva_ra_level_to_arg(eva_ra_op op, bool increasing, double magnitude, bool negate);
bool eva_ra_op_is_signed(eva_ra_op op, bool increasing);
const char *eva_ra_op_name(eva_ra_op op, bool increasing);
/* One op with its PIL argument (degrees, bits, threshold, add, factor, shear, translate pct),
 * in place on img [H, W, 3]. */
eva_status eva_ra_apply_op(eva_ra_op op, double arg, const uint8_t fill[3], uint8_t *img, int W, int H);

/* PIL Image.transform(size, AFFINE, a, BICUBIC, fillcolor=fill) of src [H, W, 3] into dst
 * (same size, must not alias src): output pixel (x, y) samples the input at
 * (a0 (x+.5) + a1 (y+.5) + a2, a3 (x+.5) + a4 (y+.5) + a5). */
void eva_ra_affine_bicubic(const uint8_t *src, int W, int H, const double a[6], const uint8_t fill[3], uint8_t *dst);

#endif
