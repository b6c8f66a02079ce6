/* test_preprocess.c — image decoding and the evaluation transform, bit-exact against Pillow 9.4.
 *
 *  1. golden (shared/golden/preprocess, copied to data/preprocess/): decoded-RGB SHA-256 of the
 *     three images; `eva preprocess` with the three timm presets reproduces t224.input (float32
 *     bits), t336.crop_u8 and t560.crop_u8 with max|diff| = 0;
 *  2. data/preprocess/gen/manifest.txt (scripts/make_preprocess_fixtures.py): decoded SHA-256 of
 *     ~70 generated files (PNG modes, JPEG variants, EXIF, WebP), crop/input SHA-256 for presets
 *     and custom params, and bad files that must fail with the right status;
 *  3. units: crop offsets, resize sizes, presets, the .npy writer/reader and resume. */
#include "test_util.h"

#include "io/image.h"
#include "io/npy.h"
#include "pipelines/preprocess.h"
#include "pipelines/resize_internal.h"

#include <stdint.h>
#include <unistd.h>

/* ---------------------------------------------------------------- SHA-256 (FIPS 180-4) */
typedef struct sha256 { uint32_t h[8]; uint8_t buf[64]; uint64_t len; size_t n; } sha256;
static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
static void sha_block(sha256 *s, const uint8_t *p) {
    uint32_t w[64], a[8];
    for (int i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(a, s->h, sizeof a);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = a[7] + (ROR(a[4], 6) ^ ROR(a[4], 11) ^ ROR(a[4], 25)) + ((a[4] & a[5]) ^ (~a[4] & a[6])) + K256[i] + w[i];
        uint32_t t2 = (ROR(a[0], 2) ^ ROR(a[0], 13) ^ ROR(a[0], 22)) + ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));
        memmove(a + 1, a, 7 * sizeof(uint32_t));
        a[4] += t1;
        a[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) s->h[i] += a[i];
}
static void sha256_hex(const void *data, size_t n, char hex[65]) {
    sha256 s = {{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}, {0}, 0, 0};
    const uint8_t *p = data;
    s.len = (uint64_t)n * 8;
    for (; n >= 64; n -= 64, p += 64) sha_block(&s, p);
    uint8_t last[128] = {0};
    memcpy(last, p, n);
    last[n] = 0x80;
    size_t tot = n + 9 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; i++) last[tot - 1 - i] = (uint8_t)(s.len >> (8 * i));
    sha_block(&s, last);
    if (tot == 128) sha_block(&s, last + 64);
    for (int i = 0; i < 8; i++) sprintf(hex + 8 * i, "%08x", s.h[i]);
}

/* ---------------------------------------------------------------- 1. golden images */
static void test_golden(void) {
    static const struct { const char *name, *sha; } G[3] = {
        {"grace_hopper", "f7f982de68dd296af67ee51b2a95a2e5658f7bf064c6536520b66bae8d01fc34"},
        {"chelsea", "416b729128bfb2c3d1eb69bf9b1734a796293abc17939267b2dc94f8a5784031"},
        {"rocket", "3d4435cc745752b7f9724df88c6e18817de3ce7e3d2d71c55f85f7831e68f197"},
    };
    static const struct { const char *preset, *golden; int u8; } T[3] = {
        {"eva_giant_patch14_224.clip_ft_in1k", "t224.input", 0},
        {"eva_giant_patch14_336.clip_ft_in1k", "t336.crop_u8", 1},
        {"eva_giant_patch14_560.m30m_ft_in22k_in1k", "t560.crop_u8", 1},
    };
    const char *bin = getenv("EVA_BIN");
    for (int g = 0; g < 3; g++) {
        char path[512], gpath[512], hex[65];
        const char *ext = strcmp(G[g].name, "chelsea") == 0 ? "png" : "jpg";
        snprintf(path, sizeof path, "data/preprocess/%s.%s", G[g].name, ext);
        snprintf(gpath, sizeof gpath, "data/preprocess/preprocess_%s.safetensors", G[g].name);
        eva_image img;
        CHECK_OK(eva_image_load(path, NULL, &img));
        if (img.data) {
            sha256_hex(img.data, (size_t)img.width * img.height * 3, hex);
            CHECK(strcmp(hex, G[g].sha) == 0, "%s decoded sha256 %s, want %s", path, hex, G[g].sha);
        }
        eva_image_free(&img);
        eva_tensor_file *gf = NULL;
        CHECK_OK(eva_tensor_file_open(gpath, &gf));
        if (!gf) continue;
        for (int t = 0; t < 3; t++) {
            eva_tensor_view ref;
            CHECK_OK(eva_tensor_file_find(gf, T[t].golden, &ref));
            /* Through the library ... */
            eva_preprocess_params p;
            CHECK_OK(eva_preprocess_preset(T[t].preset, &p));
            const int S = p.size;
            float *x = malloc(sizeof(float) * 3 * S * S);
            uint8_t *crop = malloc((size_t)S * S * 3);
            CHECK_OK(eva_preprocess_file(path, &p, x, crop));
            const void *got = T[t].u8 ? (const void *)crop : (const void *)x;
            CHECK(ref.nbytes == (T[t].u8 ? (size_t)S * S * 3 : sizeof(float) * 3 * S * S) && memcmp(got, ref.data, ref.nbytes) == 0,
                  "%s %s: library result differs from golden %s", path, T[t].preset, T[t].golden);
            /* ... and through `eva preprocess`. */
            if (bin) {
                char out[512], cmd[2048];
                snprintf(out, sizeof out, "%s/pre_%s_%d.safetensors", test_tmp_dir(), G[g].name, t);
                snprintf(cmd, sizeof cmd, "'%s' preprocess %s --preset %s -o '%s'", bin, path, T[t].preset, out);
                CHECK(system(cmd) == 0, "%s failed", cmd);
                eva_tensor_file *of = NULL;
                CHECK_OK(eva_tensor_file_open(out, &of));
                eva_tensor_view v;
                if (of && eva_tensor_file_find(of, T[t].u8 ? "crop_u8" : "input", &v) == EVA_OK) {
                    size_t n = ref.nbytes / (T[t].u8 ? 1 : 4);
                    double maxd = 0;
                    for (size_t i = 0; i < n; i++) {
                        double a = T[t].u8 ? ((const uint8_t *)v.data)[i] : ((const float *)v.data)[i];
                        double b = T[t].u8 ? ((const uint8_t *)ref.data)[i] : ((const float *)ref.data)[i];
                        if (fabs(a - b) > maxd) maxd = fabs(a - b);
                    }
                    CHECK(v.nbytes == ref.nbytes && memcmp(v.data, ref.data, ref.nbytes) == 0, "%s: CLI output != golden", out);
                    printf("golden %-13s %-42s %-13s max|diff| = %g\n", G[g].name, T[t].preset, T[t].golden, maxd);
                    /* The other tensor must be consistent: input = normalise(crop_u8). */
                    eva_tensor_view c, in;
                    if (eva_tensor_file_find(of, "crop_u8", &c) == EVA_OK && eva_tensor_file_find(of, "input", &in) == EVA_OK) {
                        CHECK(in.ndim == 4 && in.shape[0] == 1 && in.shape[1] == 3 && in.shape[2] == S, "input shape");
                        CHECK(c.ndim == 3 && c.shape[0] == S && c.shape[2] == 3, "crop_u8 shape");
                        float *x2 = malloc(sizeof(float) * 3 * S * S);
                        eva_normalize_chw(c.data, S, p.mean, p.std, x2);
                        CHECK(memcmp(x2, in.data, sizeof(float) * 3 * S * S) == 0, "input != normalize(crop_u8)");
                        free(x2);
                    }
                } else {
                    CHECK(0, "%s: missing output tensor", out);
                }
                eva_tensor_file_close(of);
                unlink(out);
            }
            free(x);
            free(crop);
        }
        eva_tensor_file_close(gf);
    }
}

/* ---------------------------------------------------------------- 2. generated manifest */
static int g_webp_skipped;

static eva_status load_gen(const char *file, bool exif, eva_image *img) {
    char path[512];
    snprintf(path, sizeof path, "data/preprocess/gen/%s", file);
    eva_image_options o = {.exif_rotate = exif, .max_pixels = 0};
    return eva_image_load(path, &o, img);
}

static bool is_webp_missing(const char *file, eva_status st) {
    if (st == EVA_ERR_UNSUPPORTED && strstr(file, ".webp") && strstr(eva_last_error(), "not built in")) {
        g_webp_skipped++;
        return true;
    }
    return false;
}

static void test_manifest(void) {
    FILE *f = fopen("data/preprocess/gen/manifest.txt", "r");
    CHECK(f != NULL, "cannot open data/preprocess/gen/manifest.txt");
    if (!f) return;
    char line[1024];
    int n_decode = 0, n_pre = 0, n_bad = 0;
    while (fgets(line, sizeof line, f)) {
        char kind[16], file[256], a[128], b[128], c[128], d[128], e[128];
        if (line[0] == '#' || sscanf(line, "%15s %255s", kind, file) != 2) continue;
        if (strcmp(kind, "decode") == 0 || strcmp(kind, "exif") == 0) {
            int w, h;
            if (sscanf(line, "%*s %*s %d %d %127s", &w, &h, a) != 3) continue;
            eva_image img;
            eva_status st = load_gen(file, kind[0] == 'e', &img);
            if (is_webp_missing(file, st)) continue;
            CHECK(st == EVA_OK, "%s: %s", file, eva_last_error());
            if (st != EVA_OK) continue;
            char hex[65];
            sha256_hex(img.data, (size_t)img.width * img.height * 3, hex);
            CHECK(img.width == w && img.height == h && strcmp(hex, a) == 0, "%s %s: got %dx%d %s, want %dx%d %s", kind, file,
                  img.width, img.height, hex, w, h, a);
            /* The memory entry point gives the same pixels. */
            char path[512];
            snprintf(path, sizeof path, "data/preprocess/gen/%s", file);
            FILE *fp = fopen(path, "rb");
            static uint8_t buf[1 << 20];
            size_t len = fp ? fread(buf, 1, sizeof buf, fp) : 0;
            if (fp) fclose(fp);
            eva_image m;
            eva_image_options o = {.exif_rotate = kind[0] == 'e'};
            CHECK_OK(eva_image_decode(buf, len, &o, &m));
            CHECK(m.data && m.width == img.width && memcmp(m.data, img.data, (size_t)w * h * 3) == 0, "%s: memory decode differs", file);
            eva_image_free(&m);
            eva_image_free(&img);
            n_decode++;
        } else if (strcmp(kind, "pre") == 0 || strcmp(kind, "custom") == 0) {
            eva_preprocess_params p;
            const char *want_crop, *want_x;
            if (kind[0] == 'p') {
                if (sscanf(line, "%*s %*s %127s %127s %127s", a, b, c) != 3) continue;
                CHECK_OK(eva_preprocess_preset(a, &p));
                want_crop = b;
                want_x = c;
            } else {
                int size, squash;
                double cp;
                if (sscanf(line, "%*s %*s %d %lf %d %127s %127s", &size, &cp, &squash, d, e) != 5) continue;
                CHECK_OK(eva_preprocess_preset("eva_giant_patch14_224.clip_ft_in1k", &p));
                p.size = size;
                p.crop_pct = (float)cp;
                p.squash = squash;
                want_crop = d;
                want_x = e;
                snprintf(a, sizeof a, "custom S=%d crop_pct=%g squash=%d", size, cp, squash);
            }
            eva_image img;
            eva_status st = load_gen(file, false, &img);
            CHECK(st == EVA_OK, "%s: %s", file, eva_last_error());
            if (st != EVA_OK) continue;
            const int S = p.size;
            uint8_t *crop = malloc((size_t)S * S * 3);
            float *x = malloc(sizeof(float) * 3 * S * S);
            CHECK_OK(eva_preprocess_image(&img, &p, x, crop));
            char h1[65], h2[65];
            sha256_hex(crop, (size_t)S * S * 3, h1);
            sha256_hex(x, sizeof(float) * 3 * S * S, h2);
            CHECK(strcmp(h1, want_crop) == 0, "%s %s (%dx%d): crop_u8 sha256 %s, want %s", file, a, img.width, img.height, h1, want_crop);
            CHECK(strcmp(h2, want_x) == 0, "%s %s: input sha256 %s, want %s", file, a, h2, want_x);
            free(crop);
            free(x);
            eva_image_free(&img);
            n_pre++;
        } else if (strcmp(kind, "bad") == 0) {
            if (sscanf(line, "%*s %*s %127s", a) != 1) continue;
            eva_status want = strcmp(a, "UNSUPPORTED") == 0 ? EVA_ERR_UNSUPPORTED : EVA_ERR_FORMAT;
            eva_image img = {1, 1, (uint8_t *)1};
            eva_clear_error();
            eva_status st = load_gen(file, false, &img);
            CHECK(st == want, "%s: got %s (%s), want %s", file, eva_strerror(st), eva_last_error(), eva_strerror(want));
            CHECK(img.data == NULL && img.width == 0, "%s: output not cleared on failure", file);
            CHECK(strstr(eva_last_error(), file) != NULL, "%s: message does not name the file: %s", file, eva_last_error());
            printf("bad %-22s -> %s\n", file, eva_last_error());
            n_bad++;
        }
    }
    fclose(f);
    printf("manifest: %d decodes, %d transforms, %d bad files checked; %d WebP cases skipped (no libwebp)\n", n_decode, n_pre,
           n_bad, g_webp_skipped);
    CHECK(n_decode > 50 && n_pre > 80 && n_bad >= 10, "manifest too small: %d %d %d", n_decode, n_pre, n_bad);
}

/* ---------------------------------------------------------------- 3. units */
static void test_units(void) {
    /* round-half-even crop offsets: (n - c) / 2 = 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 73.5 -> 74 */
    CHECK(eva_center_crop_offset(225, 224) == 0, "0.5");
    CHECK(eva_center_crop_offset(227, 224) == 2, "1.5");
    CHECK(eva_center_crop_offset(229, 224) == 2, "2.5");
    CHECK(eva_center_crop_offset(371, 224) == 74, "73.5");
    CHECK(eva_center_crop_offset(290, 224) == 33, "33");
    CHECK(eva_center_crop_offset(200, 224) == -12, "pad");
    CHECK(eva_center_crop_offset(201, 224) == -11, "pad odd");
    int w, h;
    eva_resize_shorter_size(512, 600, 248, &w, &h);
    CHECK(w == 248 && h == 290, "grace_hopper geometry %dx%d", w, h);
    eva_resize_shorter_size(640, 427, 248, &w, &h);
    CHECK(w == 371 && h == 248, "rocket geometry %dx%d", w, h);
    CHECK(eva_scale_size(224, 0.9f) == 248 && eva_scale_size(336, 1.0f) == 336 && eva_scale_size(224, 0.875f) == 256, "scale size");
    /* float(0.8) > 0.8: a plain float division would give 279; Python's floor(224 / 0.8) is 280. */
    CHECK(eva_scale_size(224, 0.8f) == 280 && eva_scale_size(225, 0.9f) == 250 && eva_scale_size(336, 0.96f) == 350,
          "scale size of decimal crop_pct: %d %d %d", eva_scale_size(224, 0.8f), eva_scale_size(225, 0.9f), eva_scale_size(336, 0.96f));

    eva_preprocess_params p;
    CHECK_OK(eva_preprocess_preset("eva_21k_1k_560px_psz14_ema", &p));
    CHECK(p.size == 560 && p.crop_pct == 1.0f && !p.squash && p.mean[0] == 0.48145466f, "official 560 = shorter side + CLIP");
    CHECK_OK(eva_preprocess_preset_family("eva_21k_1k_560px_psz14_ema", "timm", &p));
    CHECK(p.size == 560 && p.squash && p.mean[0] == 0.485f && p.std[2] == 0.225f, "timm family of official 560");
    CHECK_OK(eva_preprocess_preset("eva_giant_patch14_336.m30m_ft_in22k_in1k", &p));
    CHECK(p.size == 336 && p.squash && p.mean[1] == 0.456f, "timm m30m 336");
    CHECK_OK(eva_preprocess_preset_family("eva_giant_patch14_224.clip_ft_in1k", "official", &p));
    CHECK(p.size == 224 && p.crop_pct == 1.0f && !p.squash, "official family of a timm name");
    CHECK_OK(eva_preprocess_preset("eva_giant_patch14_224", &p));
    CHECK(p.size == 224 && p.crop_pct == 0.9f, "bare timm arch");
    CHECK_OK(eva_preprocess_preset("eva_giant_patch14_clip_224.laion400m", &p));
    CHECK(p.size == 224 && p.crop_pct == 0.9f && !p.squash, "clip laion400m");
    CHECK_OK(eva_preprocess_preset("eva_clip_psz14", &p));
    CHECK(p.size == 224 && p.crop_pct == 1.0f, "eva_clip official");
    CHECK(eva_preprocess_preset("nope", &p) == EVA_ERR_INVALID_ARG && strstr(eva_last_error(), "nope"), "unknown preset");
    CHECK(eva_preprocess_preset_family("t224", "tf", &p) == EVA_ERR_INVALID_ARG, "unknown family");
    p.size = 0;
    eva_image img = {2, 2, (uint8_t[12]){0}};
    float x[12];
    CHECK(eva_preprocess_image(&img, &p, x, NULL) == EVA_ERR_INVALID_ARG, "size 0 refused");

    /* Limits: refused before allocating. */
    CHECK(eva_image_check_size(65536, 1, 0, "x") == EVA_ERR_UNSUPPORTED, "side limit");
    CHECK(eva_image_check_size(20000, 20000, 0, "x") == EVA_ERR_UNSUPPORTED, "pixel limit");
    CHECK(eva_image_check_size(1000, 1000, 999999, "x") == EVA_ERR_UNSUPPORTED, "caller limit");
    CHECK(eva_image_check_size(13000, 13000, 0, "x") == EVA_OK, "under limit");
}

/* The fast horizontal pass (AVX2, when the CPU has it) equals the plain C reference on random
 * images, sizes (up and down, 1-pixel edges) and windows, including the right-edge pixels. */
static void test_fast_vs_reference(void) {
    uint32_t seed = 12345;
#define RND() (seed = seed * 1664525u + 1013904223u, seed >> 8)
    int bad = 0;
    for (int t = 0; t < 300; t++) {
        int W = 1 + (int)(RND() % 300), H = 1 + (int)(RND() % 40), OW = 1 + (int)(RND() % 400), OH = 1 + (int)(RND() % 50);
        int ww = 1 + (int)(RND() % (unsigned)OW), wh = 1 + (int)(RND() % (unsigned)OH);
        int x0 = (int)(RND() % (unsigned)(OW - ww + 1)), y0 = (int)(RND() % (unsigned)(OH - wh + 1));
        uint8_t *src = malloc((size_t)W * H * 3), *a = malloc((size_t)ww * wh * 3), *b = malloc((size_t)ww * wh * 3);
        for (size_t i = 0; i < (size_t)W * H * 3; i++) src[i] = (uint8_t)(t % 3 == 0 ? (RND() & 1) * 255 : RND());
        eva_resize_force_reference(true);
        eva_status s1 = eva_resize_bicubic_u8(src, W, H, OW, OH, x0, y0, ww, wh, a);
        eva_resize_force_reference(false);
        eva_status s2 = eva_resize_bicubic_u8(src, W, H, OW, OH, x0, y0, ww, wh, b);
        if (s1 != EVA_OK || s2 != EVA_OK || memcmp(a, b, (size_t)ww * wh * 3) != 0) bad++;
        free(src);
        free(a);
        free(b);
    }
#undef RND
    CHECK(bad == 0, "fast resize differs from the reference in %d of 300 cases", bad);
}

static void test_npy(void) {
    /* Header bytes identical to numpy.save (fixtures written by numpy 1.24). */
    static const int64_t shapes[4][2] = {{0, 1024}, {3, 4}, {12345, 768}, {1, 1}};
    for (int i = 0; i < 4; i++) {
        char path[256], hdr[256];
        snprintf(path, sizeof path, "data/preprocess/gen/npy_%lldx%lld.npy", (long long)shapes[i][0], (long long)shapes[i][1]);
        FILE *f = fopen(path, "rb");
        uint8_t ref[256];
        size_t n = f ? fread(ref, 1, sizeof ref, f) : 0;
        if (f) fclose(f);
        size_t hn = eva_npy_header(shapes[i][0], shapes[i][1], hdr, sizeof hdr);
        CHECK(hn == 128 && n >= 128 && memcmp(hdr, ref, 128) == 0, "%s: header differs from numpy's", path);
        int64_t r, c;
        size_t off;
        CHECK_OK(eva_npy_parse_header(ref, n, path, &r, &c, &off));
        CHECK(r == shapes[i][0] && c == shapes[i][1] && off == 128, "%s: parsed %lldx%lld", path, (long long)r, (long long)c);
    }
    eva_npy_array a;
    CHECK_OK(eva_npy_read_f32("data/preprocess/gen/npy_3x4.npy", &a));
    CHECK(a.rows == 3 && a.cols == 4 && a.data && a.data[0] == 0.0f && a.data[11] == 11.0f, "numpy 3x4 arange");
    eva_npy_array_free(&a);

    /* Streaming write, resume after an abandoned run, torn last row, column mismatch. */
    char path[512], partial[600];
    snprintf(path, sizeof path, "%s/test_npy_%d.npy", test_tmp_dir(), (int)getpid());
    snprintf(partial, sizeof partial, "%s.partial", path);
    unlink(path);
    unlink(partial);
    float rows[5 * 3];
    for (int i = 0; i < 15; i++) rows[i] = (float)i * 0.5f;
    eva_npy_writer *w;
    CHECK_OK(eva_npy_writer_open(path, 3, true, &w));
    CHECK(eva_npy_writer_rows(w) == 0, "fresh");
    CHECK_OK(eva_npy_writer_append(w, rows, 2));
    eva_npy_writer_abandon(w);                         /* interrupted: .partial stays */
    CHECK(access(partial, F_OK) == 0 && access(path, F_OK) != 0, "partial kept, final absent");
    FILE *f = fopen(partial, "ab");                    /* a torn row from a crash */
    if (f) { fwrite(rows, 1, 5, f); fclose(f); }
    CHECK_OK(eva_npy_writer_open(path, 3, true, &w));
    CHECK(eva_npy_writer_rows(w) == 2, "resumed rows %lld", (long long)eva_npy_writer_rows(w));
    CHECK_OK(eva_npy_writer_append(w, rows + 6, 3));
    CHECK_OK(eva_npy_writer_close(w));
    CHECK(access(partial, F_OK) != 0, "partial renamed away");
    CHECK_OK(eva_npy_read_f32(path, &a));
    CHECK(a.rows == 5 && a.cols == 3 && a.data && memcmp(a.data, rows, sizeof rows) == 0, "resumed content");
    eva_npy_array_free(&a);
    CHECK(eva_npy_writer_open(path, 4, true, &w) == EVA_ERR_SHAPE, "column mismatch refused: %s", eva_last_error());
    unlink(partial);
    unlink(path);
}

int main(void) {
    test_units();
    test_fast_vs_reference();
    test_npy();
    test_golden();
    test_manifest();
    return test_finish("test_preprocess");
}
