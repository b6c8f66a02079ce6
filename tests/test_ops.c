/* test_ops.c — kernels against their references and first principles: streaming attention vs
 * the per-row reference (odd N, head dims, batch), LayerNorm threaded vs reference and vs its
 * definition, bicubic resampling (identity, constants, the golden pos_embed resampling of
 * tiny_posinterp_336), im2col vs a direct convolution, half/bfloat16 conversion, the Philox
 * known-answer vector, the thread pool and the arena. */
#include "test_util.h"
#include "base/base.h"
#include "models/vit.h"
#include "ops/gemm.h"
#include "ops/ops.h"
#include "ops/attention_tile.h"

static void fill(float *x, size_t n, uint64_t seed, float scale) {
    eva_rng r = eva_rng_make(seed, 0);
    for (size_t i = 0; i < n; i++) x[i] = (float)((eva_rng_uniform(&r) * 2 - 1) * scale);
}

static void test_attention(void) {
    const int cases[][4] = {{1, 1, 8, 1}, {1, 5, 16, 2}, {2, 33, 64, 4}, {1, 65, 176, 2}, {2, 257, 192, 3},
                            {1, 100, 96, 1}, {3, 7, 24, 3}, {1, 129, 256, 1}};
    eva_pool *pool;
    CHECK_OK(eva_pool_create(2, &pool));
    for (size_t c = 0; c < EVA_ARRAY_LEN(cases); c++) {
        int B = cases[c][0], N = cases[c][1], D = cases[c][2], H = cases[c][3];
        size_t nq = (size_t)B * N * 3 * D, no = (size_t)B * N * D;
        float *qkv = malloc(nq * 4), *ref = malloc(no * 4), *fast = malloc(no * 4);
        fill(qkv, nq, 100 + c, 2.0f);
        eva_attention_ref(qkv, ref, B, N, D, H);
        for (int variant = 0; variant < 2; variant++) {   /* the dispatched (AVX-512) and baseline builds */
            setenv("EVA_ATTENTION", variant ? "generic" : "auto", 1);
            eva_attention(pool, qkv, fast, B, N, D, H);
            char name[64];
            snprintf(name, sizeof name, "attention%s B%d N%d D%d H%d", variant ? "(generic)" : "", B, N, D, H);
            test_compare(name, fast, ref, no, 1e-5);
        }
        unsetenv("EVA_ATTENTION");
        /* first principles: with identical keys the softmax is uniform -> output = mean of v */
        free(qkv); free(ref); free(fast);
    }
    {   /* uniform attention check */
        int B = 1, N = 9, D = 8, H = 2;
        float qkv[9 * 24], out[9 * 8], want[8] = {0};
        fill(qkv, sizeof qkv / 4, 7, 1.0f);
        for (int t = 0; t < N; t++)
            for (int d = 0; d < D; d++) qkv[t * 24 + D + d] = 0.5f;   /* all keys equal */
        for (int t = 0; t < N; t++)
            for (int d = 0; d < D; d++) want[d] += qkv[t * 24 + 2 * D + d] / N;
        eva_attention(pool, qkv, out, B, N, D, H);
        for (int t = 0; t < N; t++) test_compare("attention uniform keys", out + t * D, want, D, 1e-6);
    }
    eva_pool_free(pool);
}

static void test_expf_poly(void) {
    double worst = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f * (float)i / 200000;
        double want = exp((double)x), got = eva_expf_poly(x);
        worst = fmax(worst, fabs(got - want) / want);
    }
    CHECK(worst < 3e-7, "polynomial exp: max relative error %.3g", worst);
    printf("exp polynomial: max relative error %.3g on [-87, 0]\n", worst);
    CHECK(eva_expf_poly(-1000.0f) < 1e-37f, "exp(-1000) not ~0");
}

static void test_layernorm(void) {
    int rows = 37, D = 1408;
    float *x = malloc(rows * D * 4), *w = malloc(D * 4), *b = malloc(D * 4), *y1 = malloc(rows * D * 4),
          *y2 = malloc(rows * D * 4);
    fill(x, (size_t)rows * D, 1, 3.0f);
    fill(w, D, 2, 1.0f);
    fill(b, D, 3, 0.5f);
    for (int i = 0; i < D; i += 100) x[i] += 50.0f;   /* large offsets: stats in double stay exact */
    eva_layernorm_ref(x, w, b, y1, rows, D, 1e-6f);
    eva_pool *pool;
    CHECK_OK(eva_pool_create(2, &pool));
    /* the fast rows (AVX-512 where present) sum the same double statistics in another order:
       outputs may differ from the reference only in the last float bit, and rarely */
    eva_layernorm(pool, x, w, b, y2, rows, D, 1e-6f);
    test_compare("layernorm fast vs reference", y2, y1, (size_t)rows * D, 1e-7);
    size_t differ = 0;
    for (size_t i = 0; i < (size_t)rows * D; i++) differ += memcmp(&y1[i], &y2[i], 4) != 0;
    CHECK(differ * 1000 <= (size_t)rows * D, "layernorm: %zu of %d outputs differ from the reference", differ, rows * D);
    printf("layernorm fast vs reference: %zu of %d outputs not bit-identical\n", differ, rows * D);
    setenv("EVA_LAYERNORM", "ref", 1);
    eva_layernorm(pool, x, w, b, y2, rows, D, 1e-6f);
    unsetenv("EVA_LAYERNORM");
    CHECK(memcmp(y1, y2, (size_t)rows * D * 4) == 0, "threaded reference layernorm differs from reference");
    /* widths around the 16- and 32-float vector steps, one row each and odd row counts */
    static const int widths[] = {1, 7, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 768, 1000};
    for (size_t k = 0; k < sizeof widths / sizeof widths[0]; k++) {
        int Dk = widths[k], rk = 3 + (int)k % 3;
        eva_layernorm_ref(x, w, b, y1, rk, Dk, 1e-6f);
        eva_layernorm(pool, x, w, b, y2, rk, Dk, 1e-6f);
        char name[64];
        snprintf(name, sizeof name, "layernorm D=%d rows=%d", Dk, rk);
        test_compare(name, y2, y1, (size_t)rk * Dk, Dk == 1 ? 0 : 1e-7);
    }
    /* definition: with w=1, b=0 each row has mean 0 and variance 1 (up to eps) */
    for (int i = 0; i < D; i++) { w[i] = 1; b[i] = 0; }
    eva_layernorm_ref(x, w, b, y1, rows, D, 1e-6f);
    double worst = 0;
    for (int r = 0; r < rows; r++) {
        double m = 0, v = 0;
        for (int i = 0; i < D; i++) m += y1[r * D + i];
        m /= D;
        for (int i = 0; i < D; i++) v += (y1[r * D + i] - m) * (y1[r * D + i] - m);
        v /= D;
        worst = fmax(worst, fmax(fabs(m), fabs(v - 1)));
    }
    CHECK(worst < 1e-5, "normalised rows: mean/var off by %g", worst);
    eva_pool_free(pool);
    free(x); free(w); free(b); free(y1); free(y2);
}

static void test_resample(void) {
    int D = 3, g = 7;
    float *in = malloc(g * g * D * 4), *out = malloc(11 * 11 * D * 4);
    fill(in, (size_t)g * g * D, 9, 1.0f);
    /* same size: the official kernel has weights (0, 1, 0, 0) -> identity */
    eva_resample_grid_official(in, g, g, out, g, g, D);
    CHECK(memcmp(in, out, (size_t)g * g * D * 4) == 0, "official identity resize changed values");
    /* constants stay constant (weights sum to 1 in both methods) */
    for (int i = 0; i < g * g * D; i++) in[i] = 0.25f;
    float want[11 * 11 * 3];
    for (int i = 0; i < 11 * 11 * D; i++) want[i] = 0.25f;
    eva_resample_grid_official(in, g, g, out, 11, 11, D);
    test_compare("official constant upsample", out, want, 11 * 11 * D, 1e-6);
    eva_resample_grid_timm(in, g, g, out, 11, 11, D);
    test_compare("timm constant upsample", out, want, 11 * 11 * D, 1e-6);
    eva_resample_grid_timm(in, g, g, out, 5, 5, D);
    test_compare("timm constant downsample", out, want, 5 * 5 * D, 1e-6);
    free(in);
    free(out);

    /* the golden pos_embed resampling 16 -> 24 of the tiny model, both methods */
    const char *w = test_tiny_weights();
    eva_tensor_file *gold;
    CHECK_OK(eva_tensor_file_open("data/golden/tiny/tiny_posinterp_336.safetensors", &gold));
    for (int method = 0; method < 2 && w && gold; method++) {
        eva_model_params p = eva_model_default_params();
        p.img_size = 336;
        p.posemb = method ? EVA_POSEMB_TIMM : EVA_POSEMB_OFFICIAL;
        eva_model *m;
        CHECK_OK(eva_model_load(w, &p, &m));
        if (!m) continue;
        float *ref = test_read_tensor(gold, method ? "timm.pos_embed" : "official.pos_embed", NULL);
        if (ref) test_compare(method ? "timm.pos_embed" : "official.pos_embed", m->pos_embed, ref, 577 * 192, 2e-6);
        free(ref);
        eva_model_free(m);
    }
    eva_tensor_file_close(gold);
}

static void test_im2col(void) {
    int B = 2, C = 3, P = 4, S = 12, G = S / P, D = 5;
    float *img = malloc(sizeof(float) * B * C * S * S), *cols = malloc(sizeof(float) * B * G * G * C * P * P);
    float *wt = malloc(sizeof(float) * D * C * P * P), *y = malloc(sizeof(float) * B * G * G * D);
    fill(img, (size_t)B * C * S * S, 11, 1.0f);
    fill(wt, (size_t)D * C * P * P, 12, 1.0f);
    eva_im2col_patches(img, cols, B, C, S, P);
    eva_gemm_ref(B * G * G, D, C * P * P, cols, C * P * P, wt, C * P * P, NULL, y, D, EVA_GEMM_STORE);
    double worst = 0;
    for (int b = 0; b < B; b++)
        for (int r = 0; r < G; r++)
            for (int c = 0; c < G; c++)
                for (int o = 0; o < D; o++) {   /* direct convolution, stride = kernel = P */
                    double s = 0;
                    for (int ch = 0; ch < C; ch++)
                        for (int i = 0; i < P; i++)
                            for (int j = 0; j < P; j++)
                                s += (double)img[((b * C + ch) * S + r * P + i) * S + c * P + j] *
                                     wt[((o * C + ch) * P + i) * P + j];
                    worst = fmax(worst, fabs(s - y[((b * G + r) * G + c) * D + o]));
                }
    CHECK(worst < 1e-5, "im2col + GEMM vs direct conv: %g", worst);
    free(img); free(cols); free(wt); free(y);
}

static void test_half(void) {
    /* exhaustive: every finite half converts to float and back unchanged */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        if (eva_f32_to_f16(eva_f16_to_f32((uint16_t)h)) != h) bad++;
    }
    CHECK(bad == 0, "%d halves do not round-trip", bad);
    CHECK(eva_f16_to_f32(0x3c00) == 1.0f && eva_f16_to_f32(0xc000) == -2.0f, "half constants");
    CHECK(eva_f16_to_f32(0x0001) == 5.9604644775390625e-08f, "smallest subnormal");
    CHECK(eva_f32_to_f16(65520.0f) == 0x7c00 && eva_f32_to_f16(65519.0f) == 0x7bff, "overflow threshold");
    CHECK(eva_f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00, "ties to even (down)");
    CHECK(eva_f32_to_f16(1.0f + 3.0f / 2048) == 0x3c02, "ties to even (up)");
    CHECK(eva_bf16_to_f32(0x3f80) == 1.0f && eva_f32_to_bf16(1.0f) == 0x3f80, "bf16 one");
    CHECK(eva_f32_to_bf16(1.0f + 1.0f / 256) == 0x3f80, "bf16 tie to even");
    CHECK(eva_f32_to_bf16(1.0f + 3.0f / 256) == 0x3f82, "bf16 tie up");
}

typedef struct { int *hits; } pool_ctx;
static void pool_fn(void *ctx, int task, int thread) {
    (void)thread;
    __atomic_fetch_add(&((pool_ctx *)ctx)->hits[task], 1, __ATOMIC_RELAXED);
}

static void test_base(void) {
    /* Philox-4x32-10 known answer (Random123 kat_vectors: ctr 0, key 0) */
    uint32_t o[4];
    eva_philox4x32(0, 0, o);
    CHECK(o[0] == 0x6627e8d5u && o[1] == 0xe169c58du && o[2] == 0xbc57ac4cu && o[3] == 0x9b00dbd8u,
          "philox KAT %08x %08x %08x %08x", o[0], o[1], o[2], o[3]);
    eva_rng r = eva_rng_make(42, 0);
    double s = 0, s2 = 0;
    for (int i = 0; i < 100000; i++) { double u = eva_rng_uniform(&r); s += u; s2 += u * u; }
    CHECK(fabs(s / 1e5 - 0.5) < 0.005 && fabs(s2 / 1e5 - 1.0 / 3) < 0.005, "uniform moments");
    for (int i = 0; i < 1000; i++) { int64_t v = eva_rng_below(&r, 7); CHECK(v >= 0 && v < 7, "below"); }
    /* pool: every task exactly once, many times over */
    eva_pool *pool;
    CHECK_OK(eva_pool_create(3, &pool));
    int hits[1000] = {0};
    pool_ctx pc = {hits};
    for (int rep = 0; rep < 200; rep++) eva_pool_run(pool, 1000, pool_fn, &pc);
    int wrong = 0;
    for (int i = 0; i < 1000; i++) wrong += hits[i] != 200;
    CHECK(wrong == 0, "%d tasks not run exactly 200 times", wrong);
    eva_pool_free(pool);
    /* arena: aligned slices, refuses overflow */
    eva_arena a;
    CHECK_OK(eva_arena_init(&a, 1000));
    void *p1 = eva_arena_alloc(&a, 10), *p2 = eva_arena_alloc(&a, 100);
    CHECK(p1 && p2 && ((uintptr_t)p2 % 64) == 0 && (char *)p2 - (char *)p1 == 64, "arena slices");
    CHECK(eva_arena_alloc(&a, 2000) == NULL, "arena overflow not refused");
    eva_arena_free(&a);
    /* checked sizes */
    size_t out;
    CHECK(!eva_size_mul(SIZE_MAX / 2, 3, &out), "overflow not detected");
    CHECK(eva_malloc((size_t)1 << 50) == NULL, "absurd allocation accepted");
}

int main(void) {
    test_base();
    test_half();
    test_expf_poly();
    test_attention();
    test_layernorm();
    test_resample();
    test_im2col();
    return test_finish("test_ops");
}
