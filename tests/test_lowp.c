/* test_lowp.c — bf16 and int8 weight GEMMs and the model paths that use them.
 *
 * Kernels (shapes M x N x K: EVA's K = 1408 / 6144 and odd ones; every epilogue; 2 threads):
 *   bf16 fast == eva_gemm on the widened weights, bit for bit (same kernel, same K blocks);
 *   bf16 reference == eva_gemm_ref on the widened weights, bit for bit (both sum in double);
 *   bf16 fast vs its reference:  |d| <= 2e-5·Σ|a||w| (+ 1e-6·|ref| for GELU's vector erf);
 *   bf16 vs fp32 weights:        |d| <= 2^-8·Σ|a||w| (bf16 rounding: <= 2^-8 relative, 8-bit significand);
 *   (the above in WIDEN math; DOT math, bf16 activations through the vdpbf16ps kernel:)
 *   bf16-dot reference == eva_gemm_ref on bf16-rounded A and widened W, bit for bit;
 *   bf16-dot emulated vs its reference: |d| <= 2e-5·Σ|a||w| (+ 1e-6·|ref|);
 *   bf16-dot vs fp32:            |d| <= (2^-7 + 2^-16)·Σ|a||w| + fp32 slack (both operands
 *                                rounded, each <= 2^-8 relative);
 *   on a CPU with avx512_bf16: the real vdpbf16ps kernel == the emulated one, bit for bit
 *   (else that check is reported as SKIPPED);
 *   q8 fast == q8 reference bit for bit (STORE, ACCUMULATE; GELU within 1e-6·|x| + 1e-7);
 *   q8 vs fp32 weights:          |d| <= ws/2·Σ|a| + as/2·Σ|w| + K·as·ws/4 (+ fp32 slack),
 *                                the worst case of rounding each operand to its int8 grid.
 * Models (golden tiny, batch 2): bf16 pre-logits/logits vs fp32 cos >= 0.99999, q8 cos >= 0.999
 * (max relative error printed); q8 files written by eva_model_save load with no flags and
 * reproduce the on-the-fly quantised model exactly; bf16 files load as bf16 (cos >= 0.99999);
 * synthetic bf16 / q8 models (generated without fp32 block matrices) equal the fp32 synthetic
 * model converted at load, bit for bit. */
#include "models/vit.h"
#include "ops/gemm_internal.h"
#include "ops/gemm_lowp.h"
#include "test_util.h"

#include <setjmp.h>
#include <signal.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float frand(void) {   /* uniform in [-1, 1) */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static const char *epi_name(eva_gemm_epilogue e) {
    return e == EVA_GEMM_STORE ? "store" : e == EVA_GEMM_GELU ? "gelu" : "accumulate";
}

typedef struct q8_buf {
    int8_t *packed;
    float *scale;
    int32_t *rowsum;
    eva_q8_weight w;
} q8_buf;

static void q8_build(q8_buf *b, const float *W, int N, int K) {
    size_t npad = eva_q8_padded_rows(N);
    b->packed = calloc(eva_q8_packed_bytes(N, K) + 64, 1);
    b->scale = calloc(npad, sizeof(float));
    b->rowsum = calloc(npad, sizeof(int32_t));
    int8_t *q = malloc((size_t)K + 1);
    for (int n = 0; n < N; n++) {
        float ws = eva_q8_quantize_row(W + (size_t)n * K, K, q);
        eva_q8_pack_row(n, K, q, ws, b->packed, b->scale, b->rowsum);
    }
    free(q);
    b->w = (eva_q8_weight){.N = N, .K = K, .packed = b->packed, .scale = b->scale, .rowsum = b->rowsum};
}

static void q8_free(q8_buf *b) {
    free(b->packed);
    free(b->scale);
    free(b->rowsum);
}

static int g_dot_hw_checked; /* shapes x epilogues where the real vdpbf16ps kernel ran */
static bool g_dot_hw_runs;   /* vdpbf16ps executes here (CPUID says so, or it runs anyway) */

static sigjmp_buf g_sigill_jmp;
static void on_sigill(int sig) {
    (void)sig;
    siglongjmp(g_sigill_jmp, 1);
}

/* Whether the real bf16 kernel can be checked: the CPU advertises avx512_bf16, or the
 * instruction executes although CPUID hides it (hypervisors mask the flag of CPUs that have
 * it, as on this project's Emerald Rapids VM); a CPU without it raises SIGILL, caught here. */
static bool probe_dot_hw(void) {
    if (eva_gemm_bf16_math_available(EVA_BF16_MATH_DOT)) return true;
    const eva_bf16dot_isa *hw = eva_bf16dot_hw_isa();
    if (!hw || !eva_gemm_bf16_fast()) return false;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigill;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGILL, &sa, &old) != 0) return false;
    volatile bool runs = false;
    if (sigsetjmp(g_sigill_jmp, 1) == 0) {
        _Alignas(64) uint32_t ap[14] = {0x40003f80u}, bp[32] = {0x40403f80u}; /* (1, 2) · (1, 3) */
        _Alignas(64) float c[32] = {0};
        hw->kernel(2, (const float *)ap, (const float *)bp, c, 32, 1, 0, NULL, NULL);
        runs = c[0] == 7.0f;
    }
    sigaction(SIGILL, &old, NULL);
    if (runs) printf("note: CPUID hides avx512_bf16 but vdpbf16ps executes (a VM masking the flag): the real kernel is checked too\n");
    return runs;
}

static void test_gemm_shape(eva_pool *pool, int M, int N, int K) {
    size_t mk = (size_t)M * K, nk = (size_t)N * K, mn = (size_t)M * N;
    float *A = malloc(sizeof(float) * (mk + 1)), *W = malloc(sizeof(float) * (nk + 1)), *Wb = malloc(sizeof(float) * (nk + 1));
    float *bias = malloc(sizeof(float) * (size_t)N), *C0 = malloc(sizeof(float) * mn);
    float *c_fast = malloc(sizeof(float) * mn), *c_ref = malloc(sizeof(float) * mn), *c_f32 = malloc(sizeof(float) * mn);
    float *c_x = malloc(sizeof(float) * mn);
    uint16_t *Wh = malloc(sizeof(uint16_t) * (nk + 1));
    /* activations with a few outliers (as LayerNorm outputs have), weights ~0.05 */
    for (size_t i = 0; i < mk; i++) A[i] = frand() * (i % 97 == 0 ? 8.0f : 1.0f);
    for (size_t i = 0; i < nk; i++) W[i] = 0.05f * frand();
    for (int n = 0; n < N; n++) bias[n] = 0.1f * frand();
    for (size_t i = 0; i < mn; i++) C0[i] = frand();
    eva_f32_to_bf16_n(W, Wh, nk);
    for (size_t i = 0; i < nk; i++) Wb[i] = eva_bf16_to_f32(Wh[i]);
    float *Ar = malloc(sizeof(float) * (mk + 1));
    eva_round_bf16_n(A, Ar, mk);
    q8_buf qb;
    q8_build(&qb, W, N, K);
    size_t ws_bytes = eva_gemm_bf16_workspace(M, K, eva_pool_threads(pool));
    if (eva_gemm_q8_workspace(M, K, eva_pool_threads(pool)) > ws_bytes)
        ws_bytes = eva_gemm_q8_workspace(M, K, eva_pool_threads(pool));
    void *ws = eva_aligned_alloc(ws_bytes);
    /* per-element scale of the products: Σ|a||w| (row m, col n) */
    double *sabs = malloc(sizeof(double) * mn);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += fabs((double)A[(size_t)m * K + k] * W[(size_t)n * K + k]);
            sabs[(size_t)m * N + n] = s;
        }
    /* activation scales as the q8 kernel computes them */
    float *as = malloc(sizeof(float) * (size_t)M);
    double *sa = malloc(sizeof(double) * (size_t)M), *sw = malloc(sizeof(double) * (size_t)N);
    for (int m = 0; m < M; m++) {
        float mx = 0;
        double s = 0;
        for (int k = 0; k < K; k++) {
            mx = fmaxf(mx, fabsf(A[(size_t)m * K + k]));
            s += fabs(A[(size_t)m * K + k]);
        }
        as[m] = mx / 127.0f;
        sa[m] = s;
    }
    for (int n = 0; n < N; n++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += fabs(W[(size_t)n * K + k]);
        sw[n] = s;
    }
    for (int e = 0; e < 3; e++) {
        eva_gemm_epilogue epi = (eva_gemm_epilogue)e;
        char tag[96];
        snprintf(tag, sizeof tag, "%dx%dx%d %s", M, N, K, epi_name(epi));
        const float *b = (e == 1 && K % 2) ? NULL : bias;   /* also run without bias */
#define RESET(c) memcpy(c, C0, sizeof(float) * mn)
        /* ---- bf16 */
        RESET(c_fast);
        eva_gemm_bf16(pool, M, N, K, A, K, Wh, K, b, c_fast, N, epi, ws);
        RESET(c_x);
        eva_gemm(pool, M, N, K, A, K, Wb, K, b, c_x, N, epi);
        if (eva_gemm_bf16_fast())
            CHECK(memcmp(c_fast, c_x, sizeof(float) * mn) == 0, "bf16 fast != fp32 GEMM on widened weights (%s)", tag);
        RESET(c_ref);
        eva_gemm_bf16_ref(M, N, K, A, K, Wh, K, b, c_ref, N, epi);
        RESET(c_x);
        eva_gemm_ref(M, N, K, A, K, Wb, K, b, c_x, N, epi);
        CHECK(memcmp(c_ref, c_x, sizeof(float) * mn) == 0, "bf16 reference != fp32 reference on widened weights (%s)", tag);
        RESET(c_f32);
        eva_gemm_ref(M, N, K, A, K, W, K, b, c_f32, N, epi);
        double worst_ref = 0, worst_f32 = 0;
        for (size_t i = 0; i < mn; i++) {
            double d = fabs((double)c_fast[i] - c_ref[i]) / (2e-5 * sabs[i] + 1e-6 * fabs(c_ref[i]) + 1e-30);
            double d2 = fabs((double)c_fast[i] - c_f32[i]) / (ldexp(1.0, -8) * sabs[i] + 1e-6 * fabs(c_f32[i]) + 1e-30);
            if (!(d <= worst_ref)) worst_ref = d;
            if (!(d2 <= worst_f32)) worst_f32 = d2;
        }
        CHECK(worst_ref <= 1.0, "bf16 fast vs reference: %.3g of the bound (%s)", worst_ref, tag);
        CHECK(worst_f32 <= 1.0, "bf16 vs fp32 weights: %.3g of the bound (%s)", worst_f32, tag);
        /* ---- bf16 DOT math (bf16 activations): emulated kernel, and the real one if present */
        double dot_ref = 0, dot_f32 = 0;
        if (eva_gemm_bf16_set_math(EVA_BF16_MATH_DOT_EMULATED)) {
            RESET(c_fast);
            eva_gemm_bf16(pool, M, N, K, A, K, Wh, K, b, c_fast, N, epi, ws);
            RESET(c_ref);
            eva_gemm_bf16_ref(M, N, K, A, K, Wh, K, b, c_ref, N, epi);
            RESET(c_x);
            eva_gemm_ref(M, N, K, Ar, K, Wb, K, b, c_x, N, epi);
            CHECK(memcmp(c_ref, c_x, sizeof(float) * mn) == 0,
                  "bf16-dot reference != fp32 reference on rounded activations and widened weights (%s)", tag);
            for (size_t i = 0; i < mn; i++) {
                double d = fabs((double)c_fast[i] - c_ref[i]) / (2e-5 * sabs[i] + 1e-6 * fabs(c_ref[i]) + 1e-30);
                double d2 = fabs((double)c_fast[i] - c_f32[i]) /
                            ((ldexp(1.0, -7) + ldexp(1.0, -16) + 2e-5) * sabs[i] + 1e-6 * fabs(c_f32[i]) + 1e-30);
                if (!(d <= dot_ref)) dot_ref = d;
                if (!(d2 <= dot_f32)) dot_f32 = d2;
            }
            CHECK(dot_ref <= 1.0, "bf16-dot fast vs reference: %.3g of the bound (%s)", dot_ref, tag);
            CHECK(dot_f32 <= 1.0, "bf16-dot vs fp32: %.3g of the bound (%s)", dot_f32, tag);
            if (g_dot_hw_runs) {
                eva_gemm_bf16_set_math_unchecked(EVA_BF16_MATH_DOT);
                RESET(c_x);
                eva_gemm_bf16(pool, M, N, K, A, K, Wh, K, b, c_x, N, epi, ws);
                CHECK(memcmp(c_fast, c_x, sizeof(float) * mn) == 0, "vdpbf16ps kernel != its emulation (%s)", tag);
                g_dot_hw_checked++;
            }
            eva_gemm_bf16_set_math(EVA_BF16_MATH_WIDEN);
        }
        /* ---- q8 */
        RESET(c_fast);
        eva_gemm_q8(pool, M, N, K, A, K, &qb.w, b, c_fast, N, epi, ws);
        RESET(c_ref);
        eva_gemm_q8_ref(M, N, K, A, K, &qb.w, b, c_ref, N, epi, ws);
        if (epi != EVA_GEMM_GELU) {
            CHECK(memcmp(c_fast, c_ref, sizeof(float) * mn) == 0, "q8 fast != q8 reference (%s)", tag);
        } else {
            double worst = 0;
            for (size_t i = 0; i < mn; i++) {
                double d = fabs((double)c_fast[i] - c_ref[i]) / (1e-6 * fabs(c_ref[i]) + 1e-7);
                if (!(d <= worst)) worst = d;
            }
            CHECK(worst <= 1.0, "q8 fast vs reference (GELU): %.3g of the bound (%s)", worst, tag);
        }
        double worst_q = 0, rel_q = 0;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                size_t i = (size_t)m * N + n;
                double ws_n = qb.scale[n], as_m = as[m];
                double bound = 0.5 * ws_n * sa[m] + 0.5 * as_m * sw[n] + 0.25 * K * as_m * ws_n;
                bound = (epi == EVA_GEMM_GELU ? 1.13 : 1.0) * bound + 1e-5 * sabs[i] + 1e-6 * fabs(c_f32[i]) + 1e-30;
                double d = fabs((double)c_fast[i] - c_f32[i]);
                if (!(d / bound <= worst_q)) worst_q = d / bound;
                if (sabs[i] > 0 && d / sabs[i] > rel_q) rel_q = d / sabs[i];
            }
        CHECK(worst_q <= 1.0, "q8 vs fp32 weights: %.3g of the bound (%s)", worst_q, tag);
        printf("gemm %-26s bf16: %.2f / %.2f of bounds  bf16-dot: %.2f / %.2f  q8: %.2f of bound, max |d|/Σ|aw| %.2e\n",
               tag, worst_ref, worst_f32, dot_ref, dot_f32, worst_q, rel_q);
#undef RESET
    }
    q8_free(&qb);
    eva_aligned_free(ws);
    free(A); free(W); free(Wb); free(bias); free(C0); free(c_fast); free(c_ref); free(c_f32); free(c_x); free(Wh);
    free(sabs); free(as); free(sa); free(sw); free(Ar);
}

/* ---------------------------------------------------------------- models */

static double cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / (sqrt(aa * bb) + 1e-300);
}

static double max_rel(const float *got, const float *ref, size_t n) {
    double md = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)got[i] - ref[i]));
        mr = fmax(mr, fabs((double)ref[i]));
    }
    return md / (mr + 1e-300);
}

typedef struct run_out {
    float pre[2 * 192], logits[2 * 10];
} run_out;

/* Forward of model m (batch 2, 224 px) into o (zeros when m is NULL); frees m. */
static void run_built(eva_model *m, const float *input, run_out *o) {
    memset(o, 0, sizeof *o);
    if (!m) return;
    eva_ctx *ctx = NULL;
    CHECK_OK(eva_ctx_create(m, 2, &ctx));
    eva_outputs out = {.logits = o->logits, .pre_logits = o->pre};
    if (ctx) CHECK_OK(eva_forward(ctx, input, 2, 224, &out));
    eva_ctx_free(ctx);
    eva_model_free(m);
}

static void run_model(const char *path, eva_dtype dt, const float *input, run_out *o, eva_dtype *got_dt) {
    eva_model_params p = eva_model_default_params();
    p.weight_dtype = dt;
    eva_model *m = NULL;
    CHECK_OK(eva_model_load(path, &p, &m));
    if (m && got_dt) *got_dt = eva_model_weight_dtype(m);
    run_built(m, input, o);
}

/* A synthetic bf16 / q8 model is generated with its block matrices already in that form (the
 * fp32 matrices never exist): the same numbers as the fp32 synthetic model saved to a file and
 * converted at load, bit for bit. */
static void test_synthetic_lowp(const float *input) {
    eva_model_params p = eva_model_default_params();
    eva_model *f32 = NULL;
    CHECK_OK(eva_model_synthetic("eva_tiny_test", &p, &f32));
    if (!f32) return;
    char path[512];
    snprintf(path, sizeof path, "%s/synthetic_f32.safetensors", test_tmp_dir());
    CHECK_OK(eva_model_save(f32, path, EVA_F32, "test"));
    eva_model_free(f32);
    static const eva_dtype dts[2] = {EVA_BF16, EVA_Q8};
    for (int i = 0; i < 2; i++) {
        run_out direct, loaded;
        p.weight_dtype = dts[i];
        eva_model *m = NULL;
        CHECK_OK(eva_model_synthetic("eva_tiny_test", &p, &m));
        if (m) {
            const eva_named_tensor *t = eva_tensor_map_find(&m->map, "blocks.0.mlp.fc1.weight");
            eva_dtype want = dts[i] == EVA_Q8 ? EVA_I8 : EVA_BF16;
            CHECK(t && t->t.dtype == want, "synthetic %s model: fc1 generated as %s", eva_dtype_name(dts[i]),
                  t ? eva_dtype_name(t->t.dtype) : "(missing)");
            CHECK(eva_model_weight_dtype(m) == dts[i], "synthetic model computes in %s",
                  eva_dtype_name(eva_model_weight_dtype(m)));
        }
        run_built(m, input, &direct);
        run_model(path, dts[i], input, &loaded, NULL);
        CHECK(memcmp(&direct, &loaded, sizeof direct) == 0,
              "synthetic %s model differs from the fp32 file converted at load", eva_dtype_name(dts[i]));
    }
}

/* bf16 activations cost more than bf16 weights alone: measured on the golden tiny (batch 2) */
#define BF16_DOT_MIN_COS 0.99999

static void test_models(void) {
    const char *weights = test_tiny_weights();
    CHECK(weights != NULL, "cannot assemble the tiny weights: %s", eva_last_error());
    if (!weights) return;
    eva_tensor_file *gold = NULL;
    CHECK_OK(eva_tensor_file_open("data/golden/tiny/tiny_forward.safetensors", &gold));
    if (!gold) return;
    size_t n = 0;
    float *input = test_read_tensor(gold, "input", &n);
    eva_tensor_file_close(gold);
    if (!input) return;
    CHECK(n == 2 * 3 * 224 * 224, "input size %zu", n);
    test_synthetic_lowp(input);
    static run_out f32, bf, bfdot, q8, q8ref, q8file, bffile;
    eva_dtype dt = EVA_F32;
    setenv("EVA_REFERENCE", "0", 1);
    run_model(weights, EVA_F32, input, &f32, &dt);
    CHECK(dt == EVA_F32, "default load is not F32");
    run_model(weights, EVA_BF16, input, &bf, &dt);
    CHECK(dt == EVA_BF16, "--dtype bf16 gave %d", dt);
    run_model(weights, EVA_Q8, input, &q8, &dt);
    CHECK(dt == EVA_Q8, "--dtype q8 gave %d", dt);
    bool have_dot = eva_gemm_bf16_set_math(EVA_BF16_MATH_DOT_EMULATED);
    if (have_dot) {
        run_model(weights, EVA_BF16, input, &bfdot, &dt);
        eva_gemm_bf16_set_math(EVA_BF16_MATH_WIDEN);
    }
    setenv("EVA_REFERENCE", "1", 1);
    run_model(weights, EVA_Q8, input, &q8ref, NULL);
    setenv("EVA_REFERENCE", "0", 1);
    struct { const char *name; const run_out *r; double min_cos; } cases[] = {
        {"bf16", &bf, 0.99999}, {"q8", &q8, 0.999}, {"q8 reference kernels", &q8ref, 0.999},
        {"bf16-dot (emulated)", &bfdot, BF16_DOT_MIN_COS}};
    for (size_t c = 0; c < EVA_ARRAY_LEN(cases); c++) {
        if (cases[c].r == &bfdot && !have_dot) continue;
        double cp = cosine(cases[c].r->pre, f32.pre, 2 * 192), cl = cosine(cases[c].r->logits, f32.logits, 20);
        double rp = max_rel(cases[c].r->pre, f32.pre, 2 * 192), rl = max_rel(cases[c].r->logits, f32.logits, 20);
        printf("tiny %-22s vs f32: pre-logits cos %.7f max rel %.2e | logits cos %.7f max rel %.2e\n", cases[c].name, cp,
               rp, cl, rl);
        CHECK(cp >= cases[c].min_cos && cl >= cases[c].min_cos, "%s: cosine %.7f / %.7f below %.5f", cases[c].name, cp,
              cl, cases[c].min_cos);
        int agree = 0;
        for (int b = 0; b < 2; b++) {
            int i0 = 0, i1 = 0;
            for (int k = 1; k < 10; k++) {
                if (f32.logits[b * 10 + k] > f32.logits[b * 10 + i0]) i0 = k;
                if (cases[c].r->logits[b * 10 + k] > cases[c].r->logits[b * 10 + i1]) i1 = k;
            }
            agree += i0 == i1;
        }
        CHECK(agree == 2, "%s: top-1 differs from fp32 on %d of 2 inputs", cases[c].name, 2 - agree);
    }
    /* files: q8 and bf16 written by eva_model_save load with no flags and give the same numbers */
    char q8path[1024], bfpath[1024], q8again[1024];
    snprintf(q8path, sizeof q8path, "%s/lowp_tiny_q8.safetensors", test_tmp_dir());
    snprintf(bfpath, sizeof bfpath, "%s/lowp_tiny_bf16.safetensors", test_tmp_dir());
    snprintf(q8again, sizeof q8again, "%s/lowp_tiny_q8_again.safetensors", test_tmp_dir());
    eva_model *m = NULL;
    eva_model_params p = eva_model_default_params();
    CHECK_OK(eva_model_load(weights, &p, &m));
    if (m) {
        CHECK_OK(eva_model_save(m, q8path, EVA_Q8, "test_lowp"));
        CHECK_OK(eva_model_save(m, bfpath, EVA_BF16, "test_lowp"));
        eva_model_free(m);
    }
    eva_tensor_file *tf = NULL;
    CHECK_OK(eva_tensor_file_open(q8path, &tf));
    if (tf) {
        eva_tensor_view v;
        const char *md = eva_tensor_file_metadata(tf, "eva.dtype");
        CHECK(md && !strcmp(md, "q8"), "q8 file metadata eva.dtype = %s", md ? md : "(none)");
        CHECK_OK(eva_tensor_file_find(tf, "blocks.1.mlp.fc2.weight", &v));
        CHECK(v.dtype == EVA_I8 && v.ndim == 2 && v.shape[0] == 192 && v.shape[1] == 832, "fc2 stored as %s",
              eva_dtype_name(v.dtype));
        CHECK_OK(eva_tensor_file_find(tf, "blocks.1.mlp.fc2.weight.scale", &v));
        CHECK(v.dtype == EVA_F32 && v.ndim == 1 && v.shape[0] == 192, "fc2.scale stored as %s", eva_dtype_name(v.dtype));
        CHECK_OK(eva_tensor_file_find(tf, "blocks.1.mlp.fc2.bias", &v));
        CHECK(v.dtype == EVA_F32, "fc2.bias stored as %s", eva_dtype_name(v.dtype));
        eva_tensor_file_close(tf);
    }
    run_model(q8path, EVA_F32, input, &q8file, &dt);
    CHECK(dt == EVA_Q8, "q8 file loaded without flags as %d", dt);
    CHECK(memcmp(&q8file, &q8, sizeof q8) == 0, "q8 file outputs differ from on-the-fly quantisation");
    /* a q8 model saved again as q8 keeps its integers */
    p = eva_model_default_params();
    m = NULL;
    CHECK_OK(eva_model_load(q8path, &p, &m));
    if (m) {
        CHECK_OK(eva_model_save(m, q8again, EVA_Q8, "test_lowp"));
        eva_model_free(m);
        run_out again;
        run_model(q8again, EVA_F32, input, &again, NULL);
        CHECK(memcmp(&again, &q8, sizeof q8) == 0, "q8 -> q8 re-save changed the outputs");
    }
    run_model(bfpath, EVA_F32, input, &bffile, &dt);
    CHECK(dt == (eva_gemm_bf16_fast() ? EVA_BF16 : EVA_F32), "bf16 file loaded as %d", dt);
    /* a BF16 file rounds the small fp32 tensors (norms, biases, pos_embed) too: close, not equal */
    CHECK(cosine(bffile.pre, bf.pre, 2 * 192) >= 0.99999, "bf16 file pre-logits cos %.7f vs on-the-fly bf16",
          cosine(bffile.pre, bf.pre, 2 * 192));
    /* unsupported compute dtype is an error, not a crash */
    p = eva_model_default_params();
    p.weight_dtype = EVA_F16;
    m = NULL;
    CHECK(eva_model_load(weights, &p, &m) == EVA_ERR_UNSUPPORTED && m == NULL, "F16 compute accepted");
    /* an int8 tensor without its .scale is refused with a message */
    {
        eva_tensor_file *src = NULL;
        CHECK_OK(eva_tensor_file_open(q8path, &src));
        eva_tensor_writer *w = NULL;
        CHECK_OK(eva_tensor_writer_create(&w));
        for (int i = 0; src && w && i < eva_tensor_file_count(src); i++) {
            eva_tensor_view v;
            eva_tensor_file_get(src, i, &v);
            if (strcmp(v.name, "blocks.0.attn.proj.weight.scale") != 0)
                eva_tensor_writer_add_view(w, v.name, v.dtype, v.ndim, v.shape, v.data);
        }
        char bad[1024];
        snprintf(bad, sizeof bad, "%s/lowp_tiny_noscale.safetensors", test_tmp_dir());
        if (w) CHECK_OK(eva_tensor_writer_save(w, bad));
        eva_tensor_writer_free(w);
        eva_tensor_file_close(src);
        m = NULL;
        p = eva_model_default_params();
        p.weight_dtype = EVA_Q8;
        CHECK(eva_model_load(bad, &p, &m) == EVA_ERR_MISSING && m == NULL, "missing .scale accepted");
        CHECK(strstr(eva_last_error(), ".scale") != NULL, "message: %s", eva_last_error());
    }
    /* without the AVX-512 kernels a q8 file is dequantised to fp32 at load (fast fp32 kernels),
       unless --dtype q8 asks for the int8 reference path */
    if (eva_gemm_kernel_available(EVA_GEMM_KERNEL_AVX2) && eva_gemm_q8_fast()) {
        eva_gemm_force_kernel(EVA_GEMM_KERNEL_AVX2);
        run_out deq, ref8;
        run_model(q8path, EVA_F32, input, &deq, &dt);
        CHECK(dt == EVA_F32, "q8 file without VNNI kernels loaded as %d", dt);
        double cp = cosine(deq.pre, f32.pre, 2 * 192);
        printf("tiny q8 file dequantised to f32 (avx2) vs f32: pre-logits cos %.7f\n", cp);
        CHECK(cp >= 0.9999, "dequantised q8 file: cos %.7f", cp);
        run_model(q8path, EVA_Q8, input, &ref8, &dt);
        CHECK(dt == EVA_Q8, "explicit q8 on avx2 loaded as %d", dt);
        CHECK(cosine(ref8.pre, q8.pre, 2 * 192) >= 0.9999, "q8 reference path on avx2 differs from VNNI path");
        eva_gemm_force_kernel(EVA_GEMM_KERNEL_AVX512);
    }
    free(input);
}

/* `test_lowp --bench [threads]`: the four EVA-g block GEMMs at batch 1 (M = 257) in f32, bf16
 * and q8; wall and process CPU time per call (the CPU time is what to compare on a shared
 * machine). Not part of the test run. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int bench(int threads) {
    eva_pool *pool = NULL;
    if (eva_pool_create(threads, &pool) != EVA_OK) return 1;
    static const struct { const char *name; int N, K; eva_gemm_epilogue epi; } L[] = {
        {"qkv", 4224, 1408, EVA_GEMM_STORE}, {"proj", 1408, 1408, EVA_GEMM_ACCUMULATE},
        {"fc1", 6144, 1408, EVA_GEMM_GELU}, {"fc2", 1408, 6144, EVA_GEMM_ACCUMULATE}};
    const int M = 257, reps = 5;
    printf("EVA-g block GEMMs, M=%d, %d threads, per call (median of %d): wall ms / CPU ms / GFLOP/s by CPU time\n", M,
           threads, reps);
    for (size_t l = 0; l < EVA_ARRAY_LEN(L); l++) {
        int N = L[l].N, K = L[l].K;
        size_t mk = (size_t)M * K, nk = (size_t)N * K;
        float *A = malloc(sizeof(float) * mk), *W = malloc(sizeof(float) * nk), *bias = malloc(sizeof(float) * N);
        float *C = calloc((size_t)M * N, sizeof(float));
        uint16_t *Wh = malloc(sizeof(uint16_t) * nk);
        for (size_t i = 0; i < mk; i++) A[i] = frand();
        for (size_t i = 0; i < nk; i++) W[i] = 0.05f * frand();
        for (int n = 0; n < N; n++) bias[n] = 0.1f * frand();
        eva_f32_to_bf16_n(W, Wh, nk);
        q8_buf qb;
        q8_build(&qb, W, N, K);
        size_t wsb = eva_gemm_bf16_workspace(M, K, threads);
        if (eva_gemm_q8_workspace(M, K, threads) > wsb) wsb = eva_gemm_q8_workspace(M, K, threads);
        void *ws = eva_aligned_alloc(wsb);
        for (int d = 0; d < 3; d++) {
            double wall[16], cpu[16];
            for (int r = 0; r < reps; r++) {
                double w0 = eva_now_seconds(), c0 = cpu_now();
                if (d == 0) eva_gemm(pool, M, N, K, A, K, W, K, bias, C, N, L[l].epi);
                else if (d == 1) eva_gemm_bf16(pool, M, N, K, A, K, Wh, K, bias, C, N, L[l].epi, ws);
                else eva_gemm_q8(pool, M, N, K, A, K, &qb.w, bias, C, N, L[l].epi, ws);
                wall[r] = eva_now_seconds() - w0;
                cpu[r] = cpu_now() - c0;
            }
            for (int i = 0; i < reps; i++)   /* sort both for medians */
                for (int j = i + 1; j < reps; j++) {
                    if (wall[j] < wall[i]) { double t = wall[i]; wall[i] = wall[j]; wall[j] = t; }
                    if (cpu[j] < cpu[i]) { double t = cpu[i]; cpu[i] = cpu[j]; cpu[j] = t; }
                }
            double fl = 2.0 * M * N * K;
            printf("  %-5s %4dx%-5d %-4s wall %8.2f ms  cpu %8.2f ms  %6.1f GFLOP/s per CPU-second x threads\n",
                   L[l].name, N, K, d == 0 ? "f32" : d == 1 ? "bf16" : "q8", wall[reps / 2] * 1e3, cpu[reps / 2] * 1e3,
                   fl / (cpu[reps / 2] / threads) / 1e9);
        }
        eva_aligned_free(ws);
        q8_free(&qb);
        free(A); free(W); free(bias); free(C); free(Wh);
    }
    eva_pool_free(pool);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--bench")) return bench(argc > 2 ? atoi(argv[2]) : 2);
    eva_pool *pool = NULL;
    CHECK_OK(eva_pool_create(2, &pool));
    /* the WIDEN checks need WIDEN math whatever this CPU's default is */
    eva_bf16_math default_math = eva_gemm_bf16_math();
    g_dot_hw_runs = probe_dot_hw();
    eva_gemm_bf16_set_math(EVA_BF16_MATH_WIDEN);
    printf("kernels: fp32 %s, bf16 %s, q8 %s\n", eva_gemm_kernel_name(), eva_gemm_bf16_fast() ? "avx512 (widening)" : "reference",
           eva_gemm_q8_fast() ? "avx512-vnni" : "reference");
    static const int shapes[][3] = {
        {257, 64, 1408},   /* EVA-g block K, 1 image of tokens */
        {33, 96, 6144},    /* fc2's K */
        {14, 32, 16},      /* exactly one tile */
        {1, 1, 1},
        {15, 33, 17},      /* one past every tile edge */
        {29, 70, 3},       /* K below a k-quad */
        {350, 45, 100},    /* two row blocks */
        {5, 1000, 1030},   /* head-like N, K past one 768 block */
        {20, 64, 1601},    /* 3 K blocks, the last one odd (a half k pair) */
    };
    for (size_t i = 0; i < EVA_ARRAY_LEN(shapes); i++) test_gemm_shape(pool, shapes[i][0], shapes[i][1], shapes[i][2]);
    if (!eva_gemm_bf16_math_available(EVA_BF16_MATH_DOT_EMULATED))
        printf("SKIPPED: bf16-dot GEMM checks — no AVX-512 kernels on this CPU\n");
    if (g_dot_hw_checked)
        printf("vdpbf16ps kernel == emulation on %d shape x epilogue cases\n", g_dot_hw_checked);
    else
        printf("SKIPPED: vdpbf16ps hardware check — this CPU (or compiler) lacks avx512_bf16; the kernel's logic "
               "was tested through its emulation only\n");
    eva_pool_free(pool);
    test_models();
    eva_gemm_bf16_set_math(default_math);
    return test_finish("test_lowp");
}
