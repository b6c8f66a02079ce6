/* randaugment.c — timm 0.5.4 RandAugment on 8-bit RGB [H, W, 3] images with Pillow's semantics
 * (ImageOps.autocontrast / equalize / invert / posterize / solarize, ImageEnhance blends,
 * Image.transform AFFINE + BICUBIC with a fill colour). See randaugment.h for the draws. */
#include "train/randaugment.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define RA_MAX_LEVEL 10.0

/* ---------------------------------------------------------------- config string */

eva_status eva_randaug_parse(const char *spec, eva_randaug *out) {
    eva_randaug ra = {.num_ops = 2, .magnitude = RA_MAX_LEVEL, .magnitude_std = 0, .prob = 0.5, .increasing = false};
    if (!spec || !*spec || !strcmp(spec, "none")) {
        ra.num_ops = 0;
        *out = ra;
        return EVA_OK;
    }
    if (strncmp(spec, "rand", 4) || (spec[4] && spec[4] != '-'))
        return eva_fail(EVA_ERR_INVALID_ARG, "'%s': RandAugment configs start with 'rand' (e.g. rand-m9-mstd0.5-inc1) or are 'none'", spec);
    const char *s = spec + 4;
    while (*s == '-') {
        s++;
        const char *end = strchr(s, '-');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char sec[64];
        if (len >= sizeof sec) return eva_fail(EVA_ERR_INVALID_ARG, "'%s': section too long", spec);
        memcpy(sec, s, len);
        sec[len] = 0;
        s += len;
        /* timm: re.split(r'(\d.*)') — the key is everything before the first digit; sections
         * without a digit are ignored */
        size_t k = 0;
        while (sec[k] && !isdigit((unsigned char)sec[k])) k++;
        if (!sec[k]) continue;
        char key[64];
        memcpy(key, sec, k);
        key[k] = 0;
        const char *val = sec + k;
        char *e;
        double v = strtod(val, &e);
        if (*e || !isfinite(v) || v < 0)
            return eva_fail(EVA_ERR_INVALID_ARG, "'%s': bad value '%s' for '%s'", spec, val, key);
        if (!strcmp(key, "m")) ra.magnitude = v;
        else if (!strcmp(key, "n")) {
            if (v != floor(v) || v > 16) return eva_fail(EVA_ERR_INVALID_ARG, "'%s': n must be an integer 0..16", spec);
            ra.num_ops = (int)v;
        } else if (!strcmp(key, "mstd")) ra.magnitude_std = v;
        else if (!strcmp(key, "inc")) ra.increasing = v != 0;
        else if (!strcmp(key, "p")) {
            if (v > 1) return eva_fail(EVA_ERR_INVALID_ARG, "'%s': p must be in [0, 1]", spec);
            ra.prob = v;
        } else {
            return eva_fail(EVA_ERR_INVALID_ARG, "'%s': unknown RandAugment section '%s' (known: m n mstd inc p)", spec, key);
        }
    }
    if (*s) return eva_fail(EVA_ERR_INVALID_ARG, "'%s': malformed RandAugment config", spec);
    *out = ra;
    return EVA_OK;
}

void eva_randaug_format(const eva_randaug *ra, char *buf, size_t cap) {
    if (!ra || ra->num_ops <= 0) snprintf(buf, cap, "none");
    else
        snprintf(buf, cap, "rand-m%g-n%d-mstd%g-p%g-inc%d", ra->magnitude, ra->num_ops, ra->magnitude_std, ra->prob,
                 ra->increasing ? 1 : 0);
}

void eva_randaug_fill(const float mean[3], uint8_t fill[3]) {
    for (int c = 0; c < 3; c++) {
        double v = nearbyint(255.0 * (double)mean[c]);   /* Python round(): half to even */
        fill[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

/* ---------------------------------------------------------------- magnitude -> argument */

bool eva_ra_op_is_signed(eva_ra_op op, bool increasing) {
    switch (op) {
    case EVA_RA_ROTATE: case EVA_RA_SHEAR_X: case EVA_RA_SHEAR_Y: case EVA_RA_TRANSLATE_X_REL: case EVA_RA_TRANSLATE_Y_REL:
        return true;
    case EVA_RA_COLOR: case EVA_RA_CONTRAST: case EVA_RA_BRIGHTNESS: case EVA_RA_SHARPNESS:
        return increasing;   /* _enhance_increasing_level_to_arg: 1 +- level */
    default:
        return false;
    }
}

const char *eva_ra_op_name(eva_ra_op op, bool inc) {
    static const char *plain[EVA_RA_OP_COUNT] = {"AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize",
                                                 "SolarizeAdd", "Color", "Contrast", "Brightness", "Sharpness", "ShearX",
                                                 "ShearY", "TranslateXRel", "TranslateYRel"};
    static const char *incr[EVA_RA_OP_COUNT] = {"AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing",
                                                "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing", "ContrastIncreasing",
                                                "BrightnessIncreasing", "SharpnessIncreasing", "ShearX", "ShearY",
                                                "TranslateXRel", "TranslateYRel"};
    return (unsigned)op < EVA_RA_OP_COUNT ? (inc ? incr : plain)[op] : "?";
}

double eva_ra_level_to_arg(eva_ra_op op, bool inc, double m, bool negate) {
    double level = m / RA_MAX_LEVEL, sign = negate ? -1.0 : 1.0;
    switch (op) {
    case EVA_RA_ROTATE: return sign * (level * 30.0);
    case EVA_RA_SHEAR_X: case EVA_RA_SHEAR_Y: return sign * (level * 0.3);
    case EVA_RA_TRANSLATE_X_REL: case EVA_RA_TRANSLATE_Y_REL: return sign * (level * 0.45);
    case EVA_RA_POSTERIZE: {
        int bits = (int)(level * 4);
        return inc ? 4 - bits : bits;
    }
    case EVA_RA_SOLARIZE: {
        int thr = (int)(level * 256);
        return inc ? 256 - thr : thr;
    }
    case EVA_RA_SOLARIZE_ADD: return (int)(level * 110);
    case EVA_RA_COLOR: case EVA_RA_CONTRAST: case EVA_RA_BRIGHTNESS: case EVA_RA_SHARPNESS:
        return inc ? 1.0 + sign * (level * 0.9) : level * 1.8 + 0.1;
    default: return 0;
    }
}

/* ---------------------------------------------------------------- point ops (ImageOps) */

/* image.point(lut * 3): the same table on every channel */
static void apply_lut(uint8_t *img, size_t n, const uint8_t lut[256]) {
    for (size_t i = 0; i < n; i++) img[i] = lut[img[i]];
}

static void histograms(const uint8_t *img, size_t npx, int64_t h[3][256]) {
    memset(h, 0, sizeof(int64_t) * 3 * 256);
    for (size_t p = 0; p < npx; p++)
        for (int c = 0; c < 3; c++) h[c][img[3 * p + c]]++;
}

/* per-channel tables: img[p*3 + c] = lut[c][...] */
static void apply_luts3(uint8_t *img, size_t npx, uint8_t lut[3][256]) {
    for (size_t p = 0; p < npx; p++)
        for (int c = 0; c < 3; c++) img[3 * p + c] = lut[c][img[3 * p + c]];
}

/* ImageOps.autocontrast(cutoff=0): per channel, lo..hi -> 0..255 with int(ix * scale + offset) */
static void autocontrast(uint8_t *img, size_t npx) {
    int64_t h[3][256];
    uint8_t lut[3][256];
    histograms(img, npx, h);
    for (int c = 0; c < 3; c++) {
        int lo = 0, hi = 255;
        while (lo < 255 && !h[c][lo]) lo++;
        while (hi > 0 && !h[c][hi]) hi--;
        if (hi <= lo) {
            for (int i = 0; i < 256; i++) lut[c][i] = (uint8_t)i;
            continue;
        }
        double scale = 255.0 / (hi - lo), offset = -lo * scale;
        for (int i = 0; i < 256; i++) {
            double v = i * scale + offset;
            int ix = (int)v;   /* Python int(): toward zero */
            lut[c][i] = (uint8_t)(ix < 0 ? 0 : ix > 255 ? 255 : ix);
        }
    }
    apply_luts3(img, npx, lut);
}

/* ImageOps.equalize: step = (sum of the non-empty bins except the last non-empty one) // 255;
 * lut[i] = (step // 2 + sum h[0..i-1]) // step, clipped to 255 by point() */
static void equalize(uint8_t *img, size_t npx) {
    int64_t h[3][256];
    uint8_t lut[3][256];
    histograms(img, npx, h);
    for (int c = 0; c < 3; c++) {
        int nonzero = 0, last = -1;
        int64_t total = 0;
        for (int i = 0; i < 256; i++)
            if (h[c][i]) {
                nonzero++;
                last = i;
                total += h[c][i];
            }
        int64_t step = nonzero <= 1 ? 0 : (total - h[c][last]) / 255;
        if (!step) {
            for (int i = 0; i < 256; i++) lut[c][i] = (uint8_t)i;
            continue;
        }
        int64_t n = step / 2;
        for (int i = 0; i < 256; i++) {
            int64_t v = n / step;
            lut[c][i] = (uint8_t)(v > 255 ? 255 : v);
            n += h[c][i];
        }
    }
    apply_luts3(img, npx, lut);
}

/* ---------------------------------------------------------------- ImageEnhance */

/* Image.blend(degenerate, image, alpha) with alpha a C float as Pillow's ImagingBlend: copies at
 * 0 and 1, truncation inside [0, 1], clipping outside. img <- blend(deg, img). */
static void blend(const uint8_t *deg, uint8_t *img, size_t n, float alpha) {
    if (alpha == 0.0f) { memcpy(img, deg, n); return; }
    if (alpha == 1.0f) return;
    bool inside = alpha >= 0 && alpha <= 1.0f;
    for (size_t i = 0; i < n; i++) {
        float v = (float)deg[i] + alpha * (float)((int)img[i] - (int)deg[i]);
        if (inside) img[i] = (uint8_t)v;
        else img[i] = v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)v;
    }
}

/* convert("L"): ITU-R 601-2 luma in 16.16 fixed point, rounded */
static uint8_t luma(const uint8_t *px) {
    return (uint8_t)(((uint32_t)px[0] * 19595u + (uint32_t)px[1] * 38470u + (uint32_t)px[2] * 7471u + 0x8000u) >> 16);
}

/* ImageFilter.SMOOTH: 3x3 kernel (1 1 1 / 1 5 1 / 1 1 1) / 13 in float, + 0.5 then truncated;
 * the first/last row and column are copied unchanged; images under 3x3 are copied. */
static void smooth(const uint8_t *src, int W, int H, uint8_t *dst) {
    memcpy(dst, src, (size_t)W * H * 3);
    if (W < 3 || H < 3) return;
    const float k[9] = {1.0f / 13.0f, 1.0f / 13.0f, 1.0f / 13.0f, 1.0f / 13.0f, 5.0f / 13.0f,
                        1.0f / 13.0f, 1.0f / 13.0f, 1.0f / 13.0f, 1.0f / 13.0f};
    for (int y = 1; y < H - 1; y++) {
        const uint8_t *r_1 = src + (size_t)(y - 1) * W * 3, *r0 = src + (size_t)y * W * 3, *r1 = src + (size_t)(y + 1) * W * 3;
        uint8_t *out = dst + (size_t)y * W * 3;
        for (int x = 1; x < W - 1; x++)
            for (int c = 0; c < 3; c++) {
                int i = x * 3 + c;
                /* same association as Pillow's KERNEL1x3: rows y+1, y, y-1 onto kernel rows 0, 1, 2 */
                float ss = 0.5f;
                ss += (float)r1[i - 3] * k[0] + (float)r1[i] * k[1] + (float)r1[i + 3] * k[2];
                ss += (float)r0[i - 3] * k[3] + (float)r0[i] * k[4] + (float)r0[i + 3] * k[5];
                ss += (float)r_1[i - 3] * k[6] + (float)r_1[i] * k[7] + (float)r_1[i + 3] * k[8];
                out[i] = ss <= 0.0f ? 0 : ss >= 255.0f ? 255 : (uint8_t)ss;
            }
    }
}

static eva_status enhance(eva_ra_op op, float factor, uint8_t *img, int W, int H) {
    size_t npx = (size_t)W * H, n = npx * 3;
    uint8_t *deg = malloc(n ? n : 1);
    if (!deg) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    if (op == EVA_RA_COLOR) {                 /* convert("L").convert("RGB") */
        for (size_t p = 0; p < npx; p++) deg[3 * p] = deg[3 * p + 1] = deg[3 * p + 2] = luma(img + 3 * p);
    } else if (op == EVA_RA_CONTRAST) {       /* a flat grey at int(mean of L + 0.5) */
        double sum = 0;
        for (size_t p = 0; p < npx; p++) sum += luma(img + 3 * p);
        int mean = npx ? (int)(sum / (double)npx + 0.5) : 0;
        memset(deg, mean, n);
    } else if (op == EVA_RA_BRIGHTNESS) {     /* black */
        memset(deg, 0, n);
    } else {                                  /* SHARPNESS: the smoothed image */
        smooth(img, W, H, deg);
    }
    blend(deg, img, n, factor);
    free(deg);
    return EVA_OK;
}

/* ---------------------------------------------------------------- geometry (Image.transform) */

/* Pillow's BICUBIC (a = -1 cubic convolution) through 4 samples at fraction d */
static double cubic(double v1, double v2, double v3, double v4, double d) {
    double p1 = v2, p2 = -v1 + v3, p3 = 2 * (v1 - v2) + v3 - v4, p4 = -v1 + v2 - v3 + v4;
    return p1 + d * (p2 + d * (p3 + d * p4));
}

static int clampi(int v, int n) { return v < 0 ? 0 : v < n ? v : n - 1; }

void eva_ra_affine_bicubic(const uint8_t *src, int W, int H, const double a[6], const uint8_t fill[3], uint8_t *dst) {
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *out = dst + ((size_t)y * W + x) * 3;
            double xin = a[0] * (x + 0.5) + a[1] * (y + 0.5) + a[2];
            double yin = a[3] * (x + 0.5) + a[4] * (y + 0.5) + a[5];
            if (!(xin >= 0.0 && xin < W && yin >= 0.0 && yin < H)) {   /* outside: the fill colour */
                memcpy(out, fill, 3);
                continue;
            }
            xin -= 0.5;
            yin -= 0.5;
            int xi = (int)floor(xin), yi = (int)floor(yin);
            double dx = xin - xi, dy = yin - yi;
            xi--;
            yi--;
            int xs[4] = {clampi(xi, W), clampi(xi + 1, W), clampi(xi + 2, W), clampi(xi + 3, W)};
            for (int c = 0; c < 3; c++) {
                /* first row clipped into the image; each later row outside it repeats the previous value */
                double v[4];
                const uint8_t *row = src + (size_t)clampi(yi, H) * W * 3 + c;
                v[0] = cubic(row[xs[0] * 3], row[xs[1] * 3], row[xs[2] * 3], row[xs[3] * 3], dx);
                for (int k = 1; k < 4; k++) {
                    int yy = yi + k;
                    if (yy >= 0 && yy < H) {
                        row = src + (size_t)yy * W * 3 + c;
                        v[k] = cubic(row[xs[0] * 3], row[xs[1] * 3], row[xs[2] * 3], row[xs[3] * 3], dx);
                    } else {
                        v[k] = v[k - 1];
                    }
                }
                double r = cubic(v[0], v[1], v[2], v[3], dy);
                out[c] = r <= 0.0 ? 0 : r >= 255.0 ? 255 : (uint8_t)r;
            }
        }
}

/* Python round(x, 15): the correctly rounded 15-decimal value (printf is exact in glibc) */
static double round15(double x) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.15f", x);
    return strtod(buf, NULL);
}

static eva_status geometric(eva_ra_op op, double arg, const uint8_t fill[3], uint8_t *img, int W, int H) {
    size_t n = (size_t)W * H * 3;
    double a[6] = {1, 0, 0, 0, 1, 0};
    if (op == EVA_RA_ROTATE) {
        /* Image.rotate(deg, BICUBIC, fillcolor): angle % 360 (Python), exact transposes for 0 / 180
         * (and 90 / 270 on square images), else the affine about the centre (w/2, h/2) */
        double ang = fmod(arg, 360.0);
        if (ang != 0 && ang < 0) ang += 360.0;
        if (ang == 0) return EVA_OK;
        bool t180 = ang == 180, t90 = (ang == 90 || ang == 270) && W == H;
        if (t180 || t90) {
            uint8_t *tmp = malloc(n);
            if (!tmp) return eva_fail(EVA_ERR_NOMEM, "out of memory");
            memcpy(tmp, img, n);
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int sx, sy;
                    if (t180) { sx = W - 1 - x; sy = H - 1 - y; }
                    else if (ang == 90) { sx = W - 1 - y; sy = x; }      /* counter-clockwise */
                    else { sx = y; sy = H - 1 - x; }
                    memcpy(img + ((size_t)y * W + x) * 3, tmp + ((size_t)sy * W + sx) * 3, 3);
                }
            free(tmp);
            return EVA_OK;
        }
        double r = -ang * (3.14159265358979323846 / 180.0);   /* math.radians: x * (pi / 180) */
        double cx = W / 2.0, cy = H / 2.0;
        a[0] = round15(cos(r));
        a[1] = round15(sin(r));
        a[3] = round15(-sin(r));
        a[4] = round15(cos(r));
        a[2] = a[0] * -cx + a[1] * -cy + 0.0 + cx;
        a[5] = a[3] * -cx + a[4] * -cy + 0.0 + cy;
    } else if (op == EVA_RA_SHEAR_X) a[1] = arg;
    else if (op == EVA_RA_SHEAR_Y) a[3] = arg;
    else if (op == EVA_RA_TRANSLATE_X_REL) a[2] = arg * W;
    else a[5] = arg * H;
    uint8_t *src = malloc(n ? n : 1);
    if (!src) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    memcpy(src, img, n);
    eva_ra_affine_bicubic(src, W, H, a, fill, img);
    free(src);
    return EVA_OK;
}

/* ---------------------------------------------------------------- dispatch */

eva_status eva_ra_apply_op(eva_ra_op op, double arg, const uint8_t fill[3], uint8_t *img, int W, int H) {
    if (W < 1 || H < 1) return eva_fail(EVA_ERR_INVALID_ARG, "RandAugment: empty image");
    size_t npx = (size_t)W * H, n = npx * 3;
    uint8_t lut[256];
    switch (op) {
    case EVA_RA_AUTOCONTRAST: autocontrast(img, npx); return EVA_OK;
    case EVA_RA_EQUALIZE: equalize(img, npx); return EVA_OK;
    case EVA_RA_INVERT:
        for (int i = 0; i < 256; i++) lut[i] = (uint8_t)(255 - i);
        apply_lut(img, n, lut);
        return EVA_OK;
    case EVA_RA_POSTERIZE: {   /* timm: bits >= 8 leaves the image; else keep the top `bits` bits */
        int bits = (int)arg;
        if (bits >= 8) return EVA_OK;
        if (bits < 0) bits = 0;
        unsigned mask = ~((1u << (8 - bits)) - 1u) & 0xffu;
        for (int i = 0; i < 256; i++) lut[i] = (uint8_t)(i & (int)mask);
        apply_lut(img, n, lut);
        return EVA_OK;
    }
    case EVA_RA_SOLARIZE: {    /* values >= threshold inverted */
        int thr = (int)arg;
        for (int i = 0; i < 256; i++) lut[i] = (uint8_t)(i < thr ? i : 255 - i);
        apply_lut(img, n, lut);
        return EVA_OK;
    }
    case EVA_RA_SOLARIZE_ADD: {   /* values below 128 get + add, capped at 255 */
        int add = (int)arg;
        for (int i = 0; i < 256; i++) lut[i] = (uint8_t)(i < 128 ? EVA_MIN(255, i + add) : i);
        apply_lut(img, n, lut);
        return EVA_OK;
    }
    case EVA_RA_COLOR: case EVA_RA_CONTRAST: case EVA_RA_BRIGHTNESS: case EVA_RA_SHARPNESS:
        return enhance(op, (float)arg, img, W, H);
    case EVA_RA_ROTATE: case EVA_RA_SHEAR_X: case EVA_RA_SHEAR_Y: case EVA_RA_TRANSLATE_X_REL: case EVA_RA_TRANSLATE_Y_REL:
        return geometric(op, arg, fill, img, W, H);
    default:
        return eva_fail(EVA_ERR_INVALID_ARG, "RandAugment: unknown op %d", (int)op);
    }
}

eva_status eva_randaug_apply(const eva_randaug *ra, const uint8_t fill[3], eva_rng *rng, uint8_t *img, int W, int H) {
    if (!ra || ra->num_ops <= 0) return EVA_OK;
    int ops[16];
    int n = EVA_MIN(ra->num_ops, 16);
    /* np.random.choice(ops, n, replace=True): all choices first, then the ops in order */
    for (int k = 0; k < n; k++) ops[k] = (int)eva_rng_below(rng, EVA_RA_OP_COUNT);
    for (int k = 0; k < n; k++) {
        eva_ra_op op = (eva_ra_op)ops[k];
        if (ra->prob < 1.0 && eva_rng_uniform(rng) > ra->prob) continue;
        double m = ra->magnitude;
        if (ra->magnitude_std > 100 || isinf(ra->magnitude_std)) m = eva_rng_uniform(rng) * m;
        else if (ra->magnitude_std > 0) m = m + ra->magnitude_std * eva_rng_normal(rng);
        m = m < 0 ? 0 : m > RA_MAX_LEVEL ? RA_MAX_LEVEL : m;
        bool negate = eva_ra_op_is_signed(op, ra->increasing) && eva_rng_uniform(rng) > 0.5;
        double arg = eva_ra_level_to_arg(op, ra->increasing, m, negate);
        eva_status st = eva_ra_apply_op(op, arg, fill, img, W, H);
        if (st != EVA_OK) return st;
    }
    return EVA_OK;
}
