/* test_randaugment.c — RandAugment (src/train/randaugment.c): each op from first principles on tiny
 * images, the magnitude -> argument rules of timm 0.5.4, the config-string parser, the draws
 * (reproducible from the Philox stream, magnitude clipping), and golden vectors made by Pillow
 * itself (scripts/gen_randaugment_golden.py -> data/randaugment/). */
#include "test_util.h"
#include "train/data.h"
#include "train/randaugment.h"

static const uint8_t FILL[3] = {123, 117, 104};

static void grey(uint8_t *img, int n, const uint8_t *v) {
    for (int i = 0; i < n; i++) img[3 * i] = img[3 * i + 1] = img[3 * i + 2] = v[i];
}

static int count_diff(const uint8_t *a, const uint8_t *b, size_t n, int *maxd) {
    int c = 0;
    *maxd = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d) c++;
        if (d > *maxd) *maxd = d;
    }
    return c;
}

static void test_point_ops(void) {
    uint8_t img[8 * 3], ref[8 * 3];
    const uint8_t v[8] = {0, 1, 27, 100, 127, 128, 200, 255};
    /* Invert = 255 - x */
    grey(img, 8, v);
    CHECK_OK(eva_ra_apply_op(EVA_RA_INVERT, 0, FILL, img, 8, 1));
    for (int i = 0; i < 8; i++) CHECK(img[3 * i] == 255 - v[i], "invert %d -> %d", v[i], img[3 * i]);
    /* Posterize keeps the top bits */
    for (int bits = 0; bits <= 8; bits++) {
        grey(img, 8, v);
        CHECK_OK(eva_ra_apply_op(EVA_RA_POSTERIZE, bits, FILL, img, 8, 1));
        int mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
        for (int i = 0; i < 8; i++) CHECK(img[3 * i] == (v[i] & mask), "posterize %d bits: %d -> %d", bits, v[i], img[3 * i]);
    }
    /* Solarize inverts values >= threshold; 256 = identity */
    const int thr[3] = {26, 128, 256};
    for (int t = 0; t < 3; t++) {
        grey(img, 8, v);
        CHECK_OK(eva_ra_apply_op(EVA_RA_SOLARIZE, thr[t], FILL, img, 8, 1));
        for (int i = 0; i < 8; i++) CHECK(img[3 * i] == (v[i] < thr[t] ? v[i] : 255 - v[i]), "solarize %d: %d", thr[t], v[i]);
    }
    /* SolarizeAdd: + add below 128, capped */
    grey(img, 8, v);
    CHECK_OK(eva_ra_apply_op(EVA_RA_SOLARIZE_ADD, 99, FILL, img, 8, 1));
    for (int i = 0; i < 8; i++) CHECK(img[3 * i] == (v[i] < 128 ? EVA_MIN(255, v[i] + 99) : v[i]), "solarize_add %d", v[i]);
    /* AutoContrast stretches min..max of each channel to 0..255 */
    const uint8_t w[4] = {50, 60, 100, 150};
    uint8_t ac[4 * 3];
    grey(ac, 4, w);
    ac[2] = 7;   /* blue channel of pixel 0: its own range 7..150 */
    CHECK_OK(eva_ra_apply_op(EVA_RA_AUTOCONTRAST, 0, FILL, ac, 4, 1));
    CHECK(ac[0] == 0 && ac[9] == 255, "autocontrast: red min/max -> %d %d", ac[0], ac[9]);
    CHECK(ac[3] == (int)(60 * 2.55 - 50 * 2.55), "autocontrast: 60 -> %d (int(60*2.55 - 127.5))", ac[3]);
    CHECK(ac[2] == 0 && ac[11] == 255, "autocontrast: blue min/max -> %d %d", ac[2], ac[11]);
    /* a flat channel is left alone */
    memset(ac, 77, sizeof ac);
    CHECK_OK(eva_ra_apply_op(EVA_RA_AUTOCONTRAST, 0, FILL, ac, 4, 1));
    CHECK(ac[0] == 77 && ac[11] == 77, "autocontrast of a flat image changed it");
    /* Equalize on a known histogram, computed by hand with PIL's algorithm:
     * values {10 x4, 20 x2, 30 x1, 40 x1} (8 pixels): step = (8 - 1) // 255 = 0 -> identity;
     * 600 pixels {0: 300, 100: 200, 200: 100}: step = (600 - 100) // 255 = 1, n starts at 0:
     * lut[0] = 0, lut[100] = 300, clipped 255; lut[200] = 500 -> 255 */
    uint8_t eq[8 * 3];
    const uint8_t e[8] = {10, 10, 10, 10, 20, 20, 30, 40};
    grey(eq, 8, e);
    memcpy(ref, eq, sizeof eq);
    CHECK_OK(eva_ra_apply_op(EVA_RA_EQUALIZE, 0, FILL, eq, 8, 1));
    CHECK(!memcmp(eq, ref, sizeof eq), "equalize with step 0 must be the identity");
    static uint8_t big[600 * 3];
    for (int i = 0; i < 600; i++) big[3 * i] = big[3 * i + 1] = big[3 * i + 2] = i < 300 ? 0 : i < 500 ? 100 : 200;
    CHECK_OK(eva_ra_apply_op(EVA_RA_EQUALIZE, 0, FILL, big, 600, 1));
    CHECK(big[0] == 0 && big[3 * 300] == 255 && big[3 * 599] == 255, "equalize 600: %d %d %d", big[0], big[900], big[1797]);
    /* 2550 pixels: 0 x 1020, 50 x 1020, 255 x 510: step = (2550 - 510) // 255 = 8, n0 = 4:
     * lut[0] = 4 // 8 = 0, lut[50] = (4 + 1020) // 8 = 128, lut[255] = (4 + 2040) // 8 = 255 */
    static uint8_t b2[2550 * 3];
    for (int i = 0; i < 2550; i++) b2[3 * i] = b2[3 * i + 1] = b2[3 * i + 2] = i < 1020 ? 0 : i < 2040 ? 50 : 255;
    CHECK_OK(eva_ra_apply_op(EVA_RA_EQUALIZE, 0, FILL, b2, 2550, 1));
    CHECK(b2[0] == 0 && b2[3 * 1020] == 128 && b2[3 * 2549] == 255, "equalize 2550: %d %d %d", b2[0], b2[3060], b2[7647]);
}

static void test_enhance(void) {
    uint8_t img[9 * 3], ref[9 * 3];
    for (int i = 0; i < 27; i++) ref[i] = (uint8_t)(i * 9 + 3);
    /* factor 1: identity for all four */
    for (int op = EVA_RA_COLOR; op <= EVA_RA_SHARPNESS; op++) {
        memcpy(img, ref, sizeof img);
        CHECK_OK(eva_ra_apply_op((eva_ra_op)op, 1.0, FILL, img, 3, 3));
        CHECK(!memcmp(img, ref, sizeof img), "%s factor 1 is not the identity", eva_ra_op_name((eva_ra_op)op, true));
    }
    /* Brightness 0: black; 0.5: truncated halves */
    memcpy(img, ref, sizeof img);
    CHECK_OK(eva_ra_apply_op(EVA_RA_BRIGHTNESS, 0.0, FILL, img, 3, 3));
    int nz = 0;
    for (int i = 0; i < 27; i++) nz += img[i] != 0;
    CHECK(nz == 0, "brightness 0 left %d non-zero values", nz);
    memcpy(img, ref, sizeof img);
    CHECK_OK(eva_ra_apply_op(EVA_RA_BRIGHTNESS, 0.5, FILL, img, 3, 3));
    for (int i = 0; i < 27; i++) CHECK(img[i] == ref[i] / 2, "brightness 0.5: %d -> %d", ref[i], img[i]);
    /* Brightness 2: doubled and clipped */
    memcpy(img, ref, sizeof img);
    CHECK_OK(eva_ra_apply_op(EVA_RA_BRIGHTNESS, 2.0, FILL, img, 3, 3));
    for (int i = 0; i < 27; i++) CHECK(img[i] == EVA_MIN(255, 2 * ref[i]), "brightness 2: %d -> %d", ref[i], img[i]);
    /* Color 0: the luma (ITU-R 601-2, 16.16 fixed point) in all channels */
    memcpy(img, ref, sizeof img);
    CHECK_OK(eva_ra_apply_op(EVA_RA_COLOR, 0.0, FILL, img, 3, 3));
    for (int p = 0; p < 9; p++) {
        int L = (ref[3 * p] * 19595 + ref[3 * p + 1] * 38470 + ref[3 * p + 2] * 7471 + 0x8000) >> 16;
        CHECK(img[3 * p] == L && img[3 * p + 1] == L && img[3 * p + 2] == L, "color 0 pixel %d: %d vs %d", p, img[3 * p], L);
    }
    /* Contrast 0: one flat grey = int(mean luma + 0.5) */
    memcpy(img, ref, sizeof img);
    CHECK_OK(eva_ra_apply_op(EVA_RA_CONTRAST, 0.0, FILL, img, 3, 3));
    double s = 0;
    for (int p = 0; p < 9; p++) s += (ref[3 * p] * 19595 + ref[3 * p + 1] * 38470 + ref[3 * p + 2] * 7471 + 0x8000) >> 16;
    int mean = (int)(s / 9 + 0.5);
    for (int i = 0; i < 27; i++) CHECK(img[i] == mean, "contrast 0: %d vs mean %d", img[i], mean);
    /* Sharpness 0 = SMOOTH: border unchanged, centre = round((sum of 8 + 5 x centre) / 13) */
    memcpy(img, ref, sizeof img);
    CHECK_OK(eva_ra_apply_op(EVA_RA_SHARPNESS, 0.0, FILL, img, 3, 3));
    for (int p = 0; p < 9; p++)
        if (p != 4)
            for (int c = 0; c < 3; c++) CHECK(img[3 * p + c] == ref[3 * p + c], "smooth changed border pixel %d", p);
    for (int c = 0; c < 3; c++) {
        int sum = 0;
        for (int p = 0; p < 9; p++) sum += ref[3 * p + c] * (p == 4 ? 5 : 1);
        CHECK(abs(img[12 + c] - (int)lround(sum / 13.0)) <= 0, "smooth centre %d vs %ld", img[12 + c], lround(sum / 13.0));
    }
}

static void test_geometry(void) {
    enum { W = 6, H = 5 };
    uint8_t img[W * H * 3], ref[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) ref[i] = (uint8_t)((i * 37 + 11) & 0xff);
    /* Rotate by 0 (and 360) is the identity; shear 0 and translate 0 too (bicubic at integer
     * positions returns the sample itself) */
    const struct { eva_ra_op op; double a; } idn[] = {{EVA_RA_ROTATE, 0.0}, {EVA_RA_ROTATE, 360.0}, {EVA_RA_SHEAR_X, 0.0},
                                                      {EVA_RA_SHEAR_Y, 0.0}, {EVA_RA_TRANSLATE_X_REL, 0.0}};
    for (size_t k = 0; k < EVA_ARRAY_LEN(idn); k++) {
        memcpy(img, ref, sizeof img);
        CHECK_OK(eva_ra_apply_op(idn[k].op, idn[k].a, FILL, img, W, H));
        CHECK(!memcmp(img, ref, sizeof img), "%s(%g) is not the identity", eva_ra_op_name(idn[k].op, true), idn[k].a);
    }
    /* Translate by whole pixels: output(x) = input(x + 2) (TranslateXRel 2/6), the last 2 columns
     * are the fill colour */
    memcpy(img, ref, sizeof img);
    CHECK_OK(eva_ra_apply_op(EVA_RA_TRANSLATE_X_REL, 2.0 / W, FILL, img, W, H));
    int bad = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) {
                int want = x + 2 < W ? ref[(y * W + x + 2) * 3 + c] : FILL[c];
                bad += img[(y * W + x) * 3 + c] != want;
            }
    CHECK(bad == 0, "translate x by 2 pixels: %d wrong values", bad);
    /* TranslateYRel by -1 pixel: output(y) = input(y - 1), first row filled */
    memcpy(img, ref, sizeof img);
    CHECK_OK(eva_ra_apply_op(EVA_RA_TRANSLATE_Y_REL, -1.0 / H, FILL, img, W, H));
    bad = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) {
                int want = y >= 1 ? ref[((y - 1) * W + x) * 3 + c] : FILL[c];
                bad += img[(y * W + x) * 3 + c] != want;
            }
    CHECK(bad == 0, "translate y by -1 pixel: %d wrong values", bad);
    /* Rotate 180 = both flips; 90 on a square = counter-clockwise quarter turn */
    memcpy(img, ref, sizeof img);
    CHECK_OK(eva_ra_apply_op(EVA_RA_ROTATE, -180.0, FILL, img, W, H));
    bad = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) bad += memcmp(img + (y * W + x) * 3, ref + ((H - 1 - y) * W + W - 1 - x) * 3, 3) != 0;
    CHECK(bad == 0, "rotate 180: %d wrong pixels", bad);
    uint8_t sq[4 * 4 * 3], sq0[4 * 4 * 3];
    for (int i = 0; i < 48; i++) sq0[i] = (uint8_t)(i * 5);
    memcpy(sq, sq0, sizeof sq);
    CHECK_OK(eva_ra_apply_op(EVA_RA_ROTATE, 90.0, FILL, sq, 4, 4));
    CHECK(!memcmp(sq, sq0 + 3 * 3, 3), "rotate 90: the top-right pixel goes to the top-left");
}

static void test_levels(void) {
    /* magnitude 9 of the increasing ops (timm 0.5.4 level functions) */
    CHECK(fabs(eva_ra_level_to_arg(EVA_RA_ROTATE, true, 9, false) - 27.0) < 1e-12, "rotate level");
    CHECK(fabs(eva_ra_level_to_arg(EVA_RA_ROTATE, true, 9, true) + 27.0) < 1e-12, "rotate negated");
    CHECK(fabs(eva_ra_level_to_arg(EVA_RA_SHEAR_X, true, 9, false) - 0.27) < 1e-12, "shear level");
    CHECK(fabs(eva_ra_level_to_arg(EVA_RA_TRANSLATE_Y_REL, true, 9, true) + 0.405) < 1e-12, "translate level");
    CHECK(eva_ra_level_to_arg(EVA_RA_POSTERIZE, true, 9, false) == 1, "posterize increasing 4 - int(3.6)");
    CHECK(eva_ra_level_to_arg(EVA_RA_POSTERIZE, false, 9, false) == 3, "posterize int(3.6)");
    CHECK(eva_ra_level_to_arg(EVA_RA_POSTERIZE, true, 10, false) == 0, "posterize increasing at 10");
    CHECK(eva_ra_level_to_arg(EVA_RA_SOLARIZE, true, 9, false) == 256 - 230, "solarize increasing 256 - int(230.4)");
    CHECK(eva_ra_level_to_arg(EVA_RA_SOLARIZE, false, 9, false) == 230, "solarize");
    CHECK(eva_ra_level_to_arg(EVA_RA_SOLARIZE_ADD, true, 9, false) == 99, "solarize add int(99.0)");
    CHECK(fabs(eva_ra_level_to_arg(EVA_RA_COLOR, true, 9, false) - 1.81) < 1e-12, "color increasing +");
    CHECK(fabs(eva_ra_level_to_arg(EVA_RA_SHARPNESS, true, 9, true) - 0.19) < 1e-12, "sharpness increasing -");
    CHECK(fabs(eva_ra_level_to_arg(EVA_RA_CONTRAST, false, 9, false) - 1.72) < 1e-12, "contrast plain 9/10*1.8+0.1");
    CHECK(eva_ra_op_is_signed(EVA_RA_BRIGHTNESS, true) && !eva_ra_op_is_signed(EVA_RA_BRIGHTNESS, false), "enhance sign");
    CHECK(!eva_ra_op_is_signed(EVA_RA_SOLARIZE, true), "solarize is unsigned");
    uint8_t fill[3];
    eva_aug_params ap = eva_aug_defaults(EVA_AUG_FINETUNE, 28);
    eva_randaug_fill(ap.mean, fill);
    CHECK(fill[0] == 123 && fill[1] == 117 && fill[2] == 104, "CLIP fill %d %d %d", fill[0], fill[1], fill[2]);
    const float half[3] = {0.5f, 0.5f, 0.5f}, one[3] = {1.0f, 1.2f, 0.0f};
    eva_randaug_fill(half, fill);
    CHECK(fill[0] == 128, "round(127.5) = 128 (half to even)");
    eva_randaug_fill(one, fill);
    CHECK(fill[0] == 255 && fill[1] == 255 && fill[2] == 0, "fill clipped");
}

static void test_parse(void) {
    eva_randaug ra;
    CHECK_OK(eva_randaug_parse("rand-m9-mstd0.5-inc1", &ra));
    CHECK(ra.num_ops == 2 && ra.magnitude == 9 && ra.magnitude_std == 0.5 && ra.prob == 0.5 && ra.increasing, "official config");
    CHECK_OK(eva_randaug_parse("rand-n3-m7-p0.8", &ra));
    CHECK(ra.num_ops == 3 && ra.magnitude == 7 && ra.prob == 0.8 && !ra.increasing && ra.magnitude_std == 0, "n3 m7 p0.8");
    CHECK_OK(eva_randaug_parse("none", &ra));
    CHECK(ra.num_ops == 0, "none");
    CHECK_OK(eva_randaug_parse("rand", &ra));
    CHECK(ra.num_ops == 2 && ra.magnitude == 10, "timm defaults");
    char buf[96];
    CHECK_OK(eva_randaug_parse("rand-m9-mstd0.5-inc1", &ra));
    eva_randaug_format(&ra, buf, sizeof buf);
    eva_randaug back;
    CHECK_OK(eva_randaug_parse(buf, &back));
    CHECK(back.num_ops == ra.num_ops && back.magnitude == ra.magnitude && back.magnitude_std == ra.magnitude_std &&
              back.prob == ra.prob && back.increasing == ra.increasing, "format/parse round trip: %s", buf);
    const char *bad[] = {"rand-x5", "rand-m9-q1", "auto-m9", "rand-p2", "rand-n1.5", "rand-m-1", "randm9", "rand-m9x"};
    for (size_t i = 0; i < EVA_ARRAY_LEN(bad); i++) {
        eva_status st = eva_randaug_parse(bad[i], &ra);
        CHECK(st == EVA_ERR_INVALID_ARG, "'%s' accepted", bad[i]);
    }
}

/* the draws: same stream -> same image; magnitude clipping; p = 0 -> no change */
static void test_apply(void) {
    enum { S = 12 };
    uint8_t a[S * S * 3], b[S * S * 3], orig[S * S * 3];
    for (int i = 0; i < S * S * 3; i++) orig[i] = (uint8_t)((i * 13 + (i / 36) * 7) & 0xff);
    eva_randaug ra;
    CHECK_OK(eva_randaug_parse("rand-m9-mstd0.5-inc1", &ra));
    int changed = 0;
    for (uint64_t s = 0; s < 20; s++) {
        memcpy(a, orig, sizeof a);
        memcpy(b, orig, sizeof b);
        eva_rng r1 = eva_rng_make(7, s), r2 = eva_rng_make(7, s);
        CHECK_OK(eva_randaug_apply(&ra, FILL, &r1, a, S, S));
        CHECK_OK(eva_randaug_apply(&ra, FILL, &r2, b, S, S));
        CHECK(!memcmp(a, b, sizeof a) && r1.counter == r2.counter, "stream %llu not reproducible", (unsigned long long)s);
        changed += memcmp(a, orig, sizeof a) != 0;
    }
    CHECK(changed >= 10 && changed < 20, "%d of 20 images changed (expect ~75%%: 1 - 0.5^2)", changed);
    /* p = 0: nothing ever applies */
    CHECK_OK(eva_randaug_parse("rand-m9-p0-inc1", &ra));
    memcpy(a, orig, sizeof a);
    eva_rng r = eva_rng_make(1, 1);
    CHECK_OK(eva_randaug_apply(&ra, FILL, &r, a, S, S));
    CHECK(!memcmp(a, orig, sizeof a), "p0 changed the image");
    /* magnitude clipping: m 50 with mstd 0 acts as m 10 — the same stream gives the same result */
    eva_randaug hi, ten;
    CHECK_OK(eva_randaug_parse("rand-m50-n4-p1-inc1", &hi));
    CHECK_OK(eva_randaug_parse("rand-m10-n4-p1-inc1", &ten));
    int same = 0;
    for (uint64_t s = 0; s < 10; s++) {
        memcpy(a, orig, sizeof a);
        memcpy(b, orig, sizeof b);
        eva_rng r1 = eva_rng_make(3, s), r2 = eva_rng_make(3, s);
        CHECK_OK(eva_randaug_apply(&hi, FILL, &r1, a, S, S));
        CHECK_OK(eva_randaug_apply(&ten, FILL, &r2, b, S, S));
        same += !memcmp(a, b, sizeof a);
    }
    CHECK(same == 10, "magnitude 50 was not clipped to 10 (%d/10 equal)", same);
    /* m 0 with Rotate/Shear/Translate/Enhance: identities; m0 Posterize (inc) keeps 4 bits, so not all */
    CHECK(eva_ra_level_to_arg(EVA_RA_ROTATE, true, 0, true) == 0 && eva_ra_level_to_arg(EVA_RA_COLOR, true, 0, true) == 1.0,
          "magnitude 0 levels");
}

static void test_golden(void) {
    FILE *fi = fopen("data/randaugment/input.rgb", "rb"), *fe = fopen("data/randaugment/expected.rgb", "rb"),
         *fc = fopen("data/randaugment/cases.txt", "r");
    CHECK(fi && fe && fc, "data/randaugment fixtures missing");
    if (!fi || !fe || !fc) {
        if (fi) fclose(fi);
        if (fe) fclose(fe);
        if (fc) fclose(fc);
        return;
    }
    enum { W = 16, H = 16, N = W * H * 3 };
    uint8_t in[N], want[N], got[N];
    CHECK(fread(in, 1, N, fi) == N, "input.rgb short");
    int op, cases = 0, exact = 0;
    double arg;
    while (fscanf(fc, "%d %lf", &op, &arg) == 2) {
        if (fread(want, 1, N, fe) != N) { CHECK(0, "expected.rgb short at case %d", cases); break; }
        memcpy(got, in, N);
        CHECK_OK(eva_ra_apply_op((eva_ra_op)op, arg, FILL, got, W, H));
        int maxd, nd = count_diff(got, want, N, &maxd);
        exact += nd == 0;
        /* Pillow-exact is the goal: every op is reproduced to the byte */
        CHECK(nd == 0, "golden case %d (%s %g): %d values differ, max %d", cases, eva_ra_op_name((eva_ra_op)op, false), arg, nd, maxd);
        cases++;
    }
    printf("golden: %d of %d Pillow cases byte-exact\n", exact, cases);
    CHECK(cases >= 30, "only %d golden cases read", cases);
    fclose(fi);
    fclose(fe);
    fclose(fc);
}

/* wiring: eva_augment runs RandAugment after RandomResizedCrop + flip, on the same per-sample
 * stream (the crop draws come first, so they are the same with and without it) */
static void test_augment_wiring(void) {
    eva_image img = {.width = 20, .height = 16};
    img.data = malloc(20 * 16 * 3);
    for (int i = 0; i < 20 * 16 * 3; i++) img.data[i] = (uint8_t)(i * 7);
    eva_aug_params plain = eva_aug_defaults(EVA_AUG_FINETUNE, 12), p = plain;
    CHECK(plain.randaug.num_ops == 0, "RandAugment must be off by default");
    CHECK_OK(eva_randaug_parse("rand-m9-n2-p1-inc1", &p.randaug));
    size_t n = 3 * 144;
    float *o0 = malloc(sizeof(float) * n), *o1 = malloc(sizeof(float) * n), *o2 = malloc(sizeof(float) * n);
    int differ = 0;
    for (uint64_t s = 0; s < 8; s++) {
        eva_rng r0 = eva_rng_make(5, s), r1 = eva_rng_make(5, s), r2 = eva_rng_make(5, s);
        CHECK_OK(eva_augment(&img, &plain, &r0, o0));
        CHECK_OK(eva_augment(&img, &p, &r1, o1));
        CHECK_OK(eva_augment(&img, &p, &r2, o2));
        CHECK(!memcmp(o1, o2, sizeof(float) * n), "augment + RandAugment not reproducible");
        differ += memcmp(o0, o1, sizeof(float) * n) != 0;
    }
    CHECK(differ >= 6, "RandAugment (p 1, m 9) changed only %d of 8 crops", differ);
    free(o0);
    free(o1);
    free(o2);
    free(img.data);
}

int main(void) {
    test_point_ops();
    test_enhance();
    test_geometry();
    test_levels();
    test_parse();
    test_apply();
    test_golden();
    test_augment_wiring();
    return test_finish("test_randaugment");
}
