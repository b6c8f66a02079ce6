/* preprocess.c — evaluation transform: Pillow bicubic resize (fixed point), torchvision center
 * crop, ToTensor + Normalize in float32. Every step reproduces Pillow 9.4 / torchvision bit for
 * bit (golden README §6.3, spec §3.2); comments name the upstream function each piece mirrors.
 *
 * Shapes: source image [H, W, 3] uint8; resized (virtual) [OH, OW, 3]; crop [S, S, 3] uint8;
 * output [3, S, S] float32. Only the pixels inside the crop window are computed: each output
 * pixel depends only on its own coefficients, so this equals resize-then-crop exactly. */
#include "pipelines/preprocess.h"

#include "io/image.h"
#include "pipelines/resize_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define PREC_BITS 22   /* Pillow: 32 - 8 - 2 */

/* Pillow Resample.c bicubic_filter, a = -0.5, same operation order (doubles). */
static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* Coefficients of one axis, in -> out (Pillow precompute_coeffs + normalize_coeffs_8bpc), for
 * output indices [o0, o0 + n). bounds[2i] = first tap, bounds[2i+1] = tap count; kk[i*ksize..]. */
typedef struct axis_coeffs {
    int ksize;
    int *bounds;
    int32_t *kk;
} axis_coeffs;

static void axis_free(axis_coeffs *a) {
    free(a->bounds);
    free(a->kk);
    a->bounds = NULL;
    a->kk = NULL;
}

static eva_status axis_make(int in_size, int out_size, int o0, int n, axis_coeffs *a) {
    const double scale = (double)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = 2.0 * filterscale;
    a->ksize = (int)ceil(support) * 2 + 1;
    a->bounds = eva_malloc(sizeof(int) * 2 * (size_t)n);
    a->kk = eva_calloc((size_t)n * (size_t)a->ksize, sizeof(int32_t));
    double *w = eva_malloc(sizeof(double) * (size_t)a->ksize);
    if (!a->bounds || !a->kk || !w) {
        free(w);
        axis_free(a);
        return EVA_ERR_NOMEM;
    }
    const double ss = 1.0 / filterscale;
    for (int i = 0; i < n; i++) {
        const int xx = o0 + i;
        const double center = (xx + 0.5) * scale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        if (xmax > a->ksize) xmax = a->ksize;   /* cannot happen; keeps the indexing safe */
        double ww = 0.0;
        for (int x = 0; x < xmax; x++) {
            w[x] = bicubic((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        for (int x = 0; x < xmax; x++) {
            double k = ww != 0.0 ? w[x] / ww : w[x];
            a->kk[(size_t)i * a->ksize + x] = k < 0 ? (int32_t)(-0.5 + k * (1 << PREC_BITS))
                                                    : (int32_t)(0.5 + k * (1 << PREC_BITS));
        }
        a->bounds[2 * i] = xmin;
        a->bounds[2 * i + 1] = xmax;
    }
    free(w);
    return EVA_OK;
}

static bool g_force_reference;
void eva_resize_force_reference(bool on) { g_force_reference = on; }

static bool use_fast(void) {
#if defined(__x86_64__)
    static int have = -1;
    if (have < 0) have = __builtin_cpu_supports("avx2") ? 1 : 0;
    return have && !g_force_reference;
#else
    return false;
#endif
}

static inline uint8_t clip8(int32_t v) {
    if (v >= (1 << PREC_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PREC_BITS);
}

eva_status eva_resize_bicubic_u8(const uint8_t *src, int W, int H, int OW, int OH,
                                 int x0, int y0, int ww, int wh, uint8_t *dst) {
    if (W <= 0 || H <= 0 || OW <= 0 || OH <= 0 || x0 < 0 || y0 < 0 || ww <= 0 || wh <= 0 ||
        x0 + ww > OW || y0 + wh > OH)
        return eva_fail(EVA_ERR_INVALID_ARG, "resize: bad window %d,%d %dx%d of %dx%d", x0, y0, ww, wh, OW, OH);
    const bool need_h = OW != W, need_v = OH != H;
    axis_coeffs ch = {0}, cv = {0};
    uint8_t *tmp = NULL;
    int32_t *acc = NULL;
    eva_status st = EVA_OK;
    /* Rows of the source (= of the horizontal-pass output) that the vertical pass reads. */
    int r0 = y0, r1 = y0 + wh;
    if (need_v) {
        if ((st = axis_make(H, OH, y0, wh, &cv)) != EVA_OK) goto done;
        r0 = cv.bounds[0];
        r1 = cv.bounds[0] + cv.bounds[1];
        for (int i = 1; i < wh; i++) {
            r0 = EVA_MIN(r0, cv.bounds[2 * i]);
            r1 = EVA_MAX(r1, cv.bounds[2 * i] + cv.bounds[2 * i + 1]);
        }
    }
    /* Horizontal pass (Pillow ImagingResampleHorizontal_8bpc) into tmp [r1 - r0, ww, 3];
     * without it the intermediate is just the source columns [x0, x0 + ww). */
    const int tr = r1 - r0;
    tmp = eva_malloc((size_t)tr * ww * 3);
    if (!tmp) {
        st = EVA_ERR_NOMEM;
        goto done;
    }
    if (need_h) {
        if ((st = axis_make(W, OW, x0, ww, &ch)) != EVA_OK) goto done;
        if (use_fast()) {
            for (int y = 0; y < tr; y++)
                eva_resize_hrow_avx2(src + (size_t)(r0 + y) * W * 3, W, ww, ch.bounds, ch.kk, ch.ksize, tmp + (size_t)y * ww * 3);
        } else {   /* plain C reference */
            for (int y = 0; y < tr; y++) {
                const uint8_t *row = src + (size_t)(r0 + y) * W * 3;
                uint8_t *o = tmp + (size_t)y * ww * 3;
                for (int x = 0; x < ww; x++) {
                    const int xmin = ch.bounds[2 * x], n = ch.bounds[2 * x + 1];
                    const int32_t *k = ch.kk + (size_t)x * ch.ksize;
                    const uint8_t *p = row + (size_t)xmin * 3;
                    int32_t s0 = 1 << (PREC_BITS - 1), s1 = s0, s2 = s0;
                    for (int j = 0; j < n; j++, p += 3) {
                        s0 += p[0] * k[j];
                        s1 += p[1] * k[j];
                        s2 += p[2] * k[j];
                    }
                    o[3 * x] = clip8(s0);
                    o[3 * x + 1] = clip8(s1);
                    o[3 * x + 2] = clip8(s2);
                }
            }
        }
    } else {
        for (int y = 0; y < tr; y++)
            memcpy(tmp + (size_t)y * ww * 3, src + ((size_t)(r0 + y) * W + x0) * 3, (size_t)ww * 3);
    }
    /* Vertical pass (Pillow ImagingResampleVertical_8bpc). */
    if (need_v) {
        /* Same sums as Pillow (integer adds commute), accumulated row by row so the inner loop
         * runs over contiguous bytes and vectorises. */
        const int rw = ww * 3;
        acc = eva_malloc(sizeof(int32_t) * (size_t)rw);
        if (!acc) {
            st = EVA_ERR_NOMEM;
            goto done;
        }
        for (int y = 0; y < wh; y++) {
            const int ymin = cv.bounds[2 * y] - r0, n = cv.bounds[2 * y + 1];
            const int32_t *k = cv.kk + (size_t)y * cv.ksize;
            for (int x = 0; x < rw; x++) acc[x] = 1 << (PREC_BITS - 1);
            for (int j = 0; j < n; j++) {
                const uint8_t *p = tmp + (size_t)(ymin + j) * rw;
                const int32_t kj = k[j];
                for (int x = 0; x < rw; x++) acc[x] += p[x] * kj;
            }
            uint8_t *o = dst + (size_t)y * rw;
            for (int x = 0; x < rw; x++) o[x] = clip8(acc[x]);
        }
    } else {
        memcpy(dst, tmp, (size_t)wh * ww * 3);
    }
done:
    axis_free(&ch);
    axis_free(&cv);
    free(tmp);
    free(acc);
    return st;
}

void eva_resize_shorter_size(int W, int H, int s, int *OW, int *OH) {
    /* torchvision _compute_resized_output_size: int(s * long / short), true division. */
    const int shortv = W <= H ? W : H, longv = W <= H ? H : W;
    double q = (double)((int64_t)s * longv) / (double)shortv;
    int nl = q >= 2147483647.0 ? 2147483647 : (int)q;   /* saturate; callers refuse > 2^30 */
    if (nl < 1) nl = 1;
    if (W <= H) { *OW = s; *OH = nl; }
    else { *OH = s; *OW = nl; }
}

int eva_center_crop_offset(int n, int c) {
    if (n < c) return -((c - n) / 2);
    const int d = n - c, k = d / 2;
    if (d % 2 == 0) return k;
    return k % 2 == 0 ? k : k + 1;   /* Python round(k + 0.5): half to even */
}

int eva_scale_size(int size, float crop_pct) {
    /* The params carry a float, Python divides by the double the user wrote (0.8, not
     * 0.800000011920929): recover the shortest decimal that rounds to this float first, so that
     * e.g. floor(224 / 0.8) is 280 as in timm, not 279. */
    double cp = (double)crop_pct;
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)crop_pct);
        double d = strtod(buf, NULL);
        if ((float)d == crop_pct) {
            cp = d;
            break;
        }
    }
    return (int)floor((double)size / cp);
}

/* Size and crop_pct only: what the uint8 crop needs (mean/std may be unset there). */
static eva_status check_geometry(const eva_preprocess_params *p) {
    if (!p) return eva_fail(EVA_ERR_INVALID_ARG, "preprocess: params is NULL");
    if (p->size < 1 || p->size > 8192) return eva_fail(EVA_ERR_INVALID_ARG, "invalid preprocessing parameters: size %d out of range 1..8192", p->size);
    if (!(p->crop_pct >= 0.05f && p->crop_pct <= 4.0f))
        return eva_fail(EVA_ERR_INVALID_ARG, "invalid preprocessing parameters: crop_pct %g out of range 0.05..4", (double)p->crop_pct);
    return EVA_OK;
}

eva_status eva_preprocess_check(const eva_preprocess_params *p) {
    if (!p) return eva_fail(EVA_ERR_INVALID_ARG, "preprocess: params is NULL");
    if (p->size < 1 || p->size > 8192) return eva_fail(EVA_ERR_INVALID_ARG, "invalid preprocessing parameters: size %d out of range 1..8192", p->size);
    if (!(p->crop_pct >= 0.05f && p->crop_pct <= 4.0f))
        return eva_fail(EVA_ERR_INVALID_ARG, "invalid preprocessing parameters: crop_pct %g out of range 0.05..4", (double)p->crop_pct);
    for (int c = 0; c < 3; c++)
        if (!isfinite(p->mean[c]) || !isfinite(p->std[c]) || p->std[c] == 0.0f)
            return eva_fail(EVA_ERR_INVALID_ARG, "invalid preprocessing parameters: mean/std must be finite and std non-zero");
    return EVA_OK;
}

eva_status eva_preprocess_crop_u8(const eva_image *img, const eva_preprocess_params *p, uint8_t *crop) {
    eva_status st = check_geometry(p);
    if (st != EVA_OK) return st;
    if (!img || !img->data || img->width < 1 || img->height < 1)
        return eva_fail(EVA_ERR_INVALID_ARG, "preprocess: empty image");
    const int S = p->size, scale = eva_scale_size(S, p->crop_pct);
    if (scale < 1) return eva_fail(EVA_ERR_INVALID_ARG, "preprocess: resize target %d < 1", scale);
    int OW, OH;
    if (p->squash) { OW = scale; OH = scale; }
    else eva_resize_shorter_size(img->width, img->height, scale, &OW, &OH);
    if (OW > (1 << 30) || OH > (1 << 30))
        return eva_fail(EVA_ERR_UNSUPPORTED, "preprocess: resized image %dx%d is too large", OW, OH);
    /* Crop window in resized coordinates, clipped to the image; the rest is zero padding. */
    const int top = eva_center_crop_offset(OH, S), left = eva_center_crop_offset(OW, S);
    const int y0 = EVA_MAX(top, 0), x0 = EVA_MAX(left, 0);
    const int y1 = EVA_MIN(top + S, OH), x1 = EVA_MIN(left + S, OW);
    const int wh = y1 - y0, ww = x1 - x0;
    if (wh < S || ww < S) memset(crop, 0, (size_t)S * S * 3);
    if (wh <= 0 || ww <= 0) return EVA_OK;
    uint8_t *win = crop;
    if (wh < S || ww < S) {
        win = eva_malloc((size_t)wh * ww * 3);
        if (!win) return EVA_ERR_NOMEM;
    }
    st = eva_resize_bicubic_u8(img->data, img->width, img->height, OW, OH, x0, y0, ww, wh, win);
    if (st == EVA_OK && win != crop)
        for (int y = 0; y < wh; y++)
            memcpy(crop + ((size_t)(y0 - top + y) * S + (x0 - left)) * 3, win + (size_t)y * ww * 3, (size_t)ww * 3);
    if (win != crop) free(win);
    return st;
}

void eva_normalize_chw(const uint8_t *crop, int S, const float mean[3], const float std[3], float *out) {
    /* torchvision ToTensor (u / 255 in float32) then Normalize ((x - mean) / std in float32):
     * two rounded float32 operations, tabulated per channel for the 256 possible inputs. */
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int u = 0; u < 256; u++) {
            volatile float x = (float)u / 255.0f;   /* volatile: keep each step rounded to float */
            lut[c][u] = (x - mean[c]) / std[c];
        }
    const size_t n = (size_t)S * S;
    for (size_t i = 0; i < n; i++) {
        out[i] = lut[0][crop[3 * i]];
        out[n + i] = lut[1][crop[3 * i + 1]];
        out[2 * n + i] = lut[2][crop[3 * i + 2]];
    }
}

eva_status eva_preprocess_image(const eva_image *img, const eva_preprocess_params *p, float *out, uint8_t *crop_u8) {
    eva_status st = out ? eva_preprocess_check(p) : check_geometry(p);
    if (st != EVA_OK) return st;
    const int S = p->size;
    uint8_t *crop = crop_u8 ? crop_u8 : eva_malloc((size_t)S * S * 3);
    if (!crop) return EVA_ERR_NOMEM;
    st = eva_preprocess_crop_u8(img, p, crop);
    if (st == EVA_OK && out) eva_normalize_chw(crop, S, p->mean, p->std, out);
    if (crop != crop_u8) free(crop);
    return st;
}

eva_status eva_preprocess_file(const char *path, const eva_preprocess_params *p, float *out, uint8_t *crop_u8) {
    eva_status st = out ? eva_preprocess_check(p) : check_geometry(p);   /* before decoding */
    if (st != EVA_OK) return st;
    eva_image_options o = {.exif_rotate = p->exif_rotate, .max_pixels = 0};
    eva_image img;
    if ((st = eva_image_load(path, &o, &img)) != EVA_OK) return st;
    st = eva_preprocess_image(&img, p, out, crop_u8);
    eva_image_free(&img);
    return st;
}
