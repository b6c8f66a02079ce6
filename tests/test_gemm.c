/* test_gemm.c — every GEMM kernel this CPU can run (reference, avx2, avx512; 1 and 2 threads)
 * against eva_gemm_ref / eva_gemm_nn_ref on edge shapes, padded leading dimensions, all three
 * epilogues, bias NULL, and the EVA-giant batch-1 shapes. Tolerance per element:
 * |got - ref| <= 1e-5 · (sum_k |a||w| + |bias| + |c_before|), i.e. relative to the magnitude
 * that flows into that element. Also checks that padding columns of C are never written, and
 * the vectorised GELU against libm erff. The threaded result must equal the single-threaded one
 * bit for bit (which thread computes a panel may not change its value), and the panel scheduler
 * (panel_sched.h) must hand out every panel exactly once, also when threads are missing. */
#include "ops/gemm.h"
#include "ops/panel_sched.h"
#include "test_util.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *kernel_names[] = {"reference", "avx2", "avx512"};
static eva_rng g_rng;

static float *rand_buf(size_t n) {
    float *p = malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) p[i] = (float)(2.0 * eva_rng_uniform(&g_rng) - 1.0);
    return p;
}

#define SENTINEL 12345.0f

/* One shape, one epilogue: run every kernel x {1, 2 threads} and compare to the reference. */
static void check_case(eva_pool *pool, bool nn, int M, int N, int K, int pad_a, int pad_w, int pad_c, int epi,
                       bool with_bias) {
    int lda = K + pad_a, ldc = N + pad_c;
    int ldw = nn ? N + pad_w : K + pad_w; /* W[N,K] or B[K,N] */
    size_t wrows = nn ? (size_t)K : (size_t)N;
    float *A = rand_buf((size_t)M * lda + 1);
    float *W = rand_buf(wrows * ldw + 1);
    float *bias = with_bias ? rand_buf((size_t)N) : NULL;
    float *C0 = rand_buf((size_t)M * ldc + 1);
    for (int m = 0; m < M; m++)
        for (int n = N; n < ldc; n++) C0[(size_t)m * ldc + n] = SENTINEL;
    float *ref = malloc(((size_t)M * ldc + 1) * sizeof(float));
    float *got = malloc(((size_t)M * ldc + 1) * sizeof(float));
    float *single = malloc(((size_t)M * ldc + 1) * sizeof(float));
    /* TN: the same W as weight panels (gemm.h) */
    float *Wp = nn ? NULL : eva_aligned_alloc((eva_panels_floats(N, K) + 1) * sizeof(float));
    if (Wp) eva_pack_panels(N, K, W, ldw, Wp);
    float *bound = malloc(((size_t)M * N + 1) * sizeof(float));
    memcpy(ref, C0, (size_t)M * ldc * sizeof(float));
    /* big shapes: the (slow, double) reference and the bound only on every row_step-th row */
    int row_step = (double)M * N * K > 1e8 ? 8 : 1;
#define CHECKED_ROW(m) ((m) % row_step == 0 || (m) == M - 1)
    for (int m = 0; m < M; m++) {
        if (!CHECKED_ROW(m)) continue;
        const float *am = A + (size_t)m * lda;
        float *rm = ref + (size_t)m * ldc;
        if (nn) eva_gemm_nn_ref(1, N, K, am, lda, W, ldw, rm, ldc, epi == EVA_GEMM_ACCUMULATE);
        else eva_gemm_ref(1, N, K, am, lda, W, ldw, bias, rm, ldc, (eva_gemm_epilogue)epi);
    }
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            if (!CHECKED_ROW(m)) continue;
            double s = 0;
            for (int k = 0; k < K; k++) {
                double w = nn ? W[(size_t)k * ldw + n] : W[(size_t)n * ldw + k];
                s += fabs((double)A[(size_t)m * lda + k] * w);
            }
            if (bias) s += fabs(bias[n]);
            if (epi == EVA_GEMM_ACCUMULATE) s += fabs(C0[(size_t)m * ldc + n]);
            bound[(size_t)m * N + n] = (float)(1e-5 * s + 1e-30);
        }
    for (int k = 0; k < 3; k++) {
        /* the forced reference kernel is eva_gemm_ref itself: only worth running on small shapes */
        if (k == EVA_GEMM_KERNEL_REF && (double)M * N * K > 1e7) continue;
        if (!eva_gemm_force_kernel((eva_gemm_kernel)k)) continue;
        for (int t = 0; t < 2; t++) {
            memcpy(got, C0, (size_t)M * ldc * sizeof(float));
            eva_pool *p = t ? pool : NULL;
            if (nn) eva_gemm_nn(p, M, N, K, A, lda, W, ldw, got, ldc, epi == EVA_GEMM_ACCUMULATE);
            else eva_gemm(p, M, N, K, A, lda, W, ldw, bias, got, ldc, (eva_gemm_epilogue)epi);
            double worst = 0;
            long bad = 0, pad_bad = 0;
            for (int m = 0; m < M; m++) {
                for (int n = 0; n < N && CHECKED_ROW(m); n++) {
                    double d = fabs((double)got[(size_t)m * ldc + n] - ref[(size_t)m * ldc + n]);
                    double r = d / bound[(size_t)m * N + n];
                    if (!(r <= 1.0)) bad++;
                    if (!(r <= worst)) worst = r;
                }
                for (int n = N; n < ldc; n++) pad_bad += got[(size_t)m * ldc + n] != SENTINEL;
            }
            CHECK(bad == 0 && pad_bad == 0,
                  "%s %s M=%d N=%d K=%d pads=%d/%d/%d epi=%d bias=%d threads=%d: %ld bad, worst err/bound %.3g, "
                  "%ld padding writes",
                  kernel_names[k], nn ? "nn" : "tn", M, N, K, pad_a, pad_w, pad_c, epi, with_bias, t ? eva_pool_threads(pool) : 1, bad,
                  worst, pad_bad);
            if (t == 0) memcpy(single, got, (size_t)M * ldc * sizeof(float));
            else
                CHECK(!memcmp(single, got, (size_t)M * ldc * sizeof(float)),
                      "%s %s M=%d N=%d K=%d epi=%d: %d threads differ from 1 thread", kernel_names[k], nn ? "nn" : "tn",
                      M, N, K, epi, eva_pool_threads(pool));
            if (!Wp) continue;
            memcpy(got, C0, (size_t)M * ldc * sizeof(float));
            eva_gemm_panels(p, M, N, K, A, lda, Wp, bias, got, ldc, (eva_gemm_epilogue)epi);
            CHECK(!memcmp(single, got, (size_t)M * ldc * sizeof(float)),
                  "%s panels M=%d N=%d K=%d epi=%d threads=%d: differs from eva_gemm on the unpacked W", kernel_names[k],
                  M, N, K, epi, t ? eva_pool_threads(pool) : 1);
        }
    }
    if (Wp && (double)M * N * K <= 1e7) {
        memcpy(got, C0, (size_t)M * ldc * sizeof(float));
        memcpy(single, C0, (size_t)M * ldc * sizeof(float));
        eva_gemm_ref(M, N, K, A, lda, W, ldw, bias, single, ldc, (eva_gemm_epilogue)epi);
        eva_gemm_panels_ref(M, N, K, A, lda, Wp, bias, got, ldc, (eva_gemm_epilogue)epi);
        CHECK(!memcmp(single, got, (size_t)M * ldc * sizeof(float)), "panels reference M=%d N=%d K=%d epi=%d differs", M,
              N, K, epi);
    }
    eva_aligned_free(Wp);
    free(A); free(W); free(bias); free(C0); free(ref); free(got); free(single); free(bound);
}

static void check_gelu(void) {
    /* a dense sweep over [-10, 10] plus special points; error relative to |x| (GELU ~ x/2 .. x) */
    size_t n = 400001;
    float *x = malloc((n + 8) * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = -10.0f + 20.0f * (float)i / (float)(n - 1);
    float specials[8] = {0.0f, -0.0f, 1e-30f, -1e-30f, 40.0f, -40.0f, 3.0e38f, -3.0e38f};
    memcpy(x + n, specials, sizeof specials);
    n += 8;
    float *y = malloc(n * sizeof(float));
    memcpy(y, x, n * sizeof(float));
    double worst = 0;
    size_t bad = 0;
    for (int k = 0; k < 3; k++) {
        if (!eva_gemm_force_kernel((eva_gemm_kernel)k)) continue;
        memcpy(y, x, n * sizeof(float));
        eva_gelu_inplace(y, n);
        for (size_t i = 0; i < n; i++) {
            float r = eva_gelu_ref(x[i]);
            double d = fabs((double)y[i] - r);
            double tol = 3e-7 * fabs((double)x[i]) + 1e-38;
            if (!(d <= tol)) {
                if (bad < 5) fprintf(stderr, "gelu %s x=%.9g got %.9g ref %.9g\n", kernel_names[k], x[i], y[i], r);
                bad++;
            }
            if (x[i] != 0 && d / fabs(x[i]) > worst) worst = d / fabs(x[i]);
        }
    }
    printf("gelu: worst |diff|/|x| = %.3g\n", worst);
    CHECK(bad == 0, "%zu GELU values off", bad);
    free(x); free(y);
}

/* ---------------------------------------------------------------- panel scheduler */

typedef struct sched_case {
    eva_panel_range ranges[EVA_PANEL_RANGES_MAX];
    int nranges, npanels;
    atomic_int *taken; /* times each panel was handed out */
    atomic_int bad_hint;
} sched_case;

typedef struct sched_worker {
    sched_case *sc;
    int self;
} sched_worker;

static void *sched_worker_main(void *arg) {
    sched_worker *w = arg;
    int p, next;
    while ((p = eva_panel_take(w->sc->ranges, w->sc->nranges, w->self, &next)) >= 0) {
        if (p >= w->sc->npanels) break;
        atomic_fetch_add(&w->sc->taken[p], 1);
        if (next < -1 || next >= w->sc->npanels) atomic_fetch_add(&w->sc->bad_hint, 1);
    }
    return NULL;
}

/* `present` of the nranges owners take panels concurrently; the others never show up, so their
 * ranges must be stolen. Every panel exactly once. */
static void check_sched(int nranges, int present, int npanels) {
    sched_case sc = {.nranges = nranges, .npanels = npanels};
    sc.taken = calloc((size_t)npanels + 1, sizeof(atomic_int));
    eva_panel_ranges_init(sc.ranges, nranges, npanels);
    pthread_t th[EVA_PANEL_RANGES_MAX];
    sched_worker w[EVA_PANEL_RANGES_MAX];
    for (int i = 0; i < present; i++) {
        w[i] = (sched_worker){&sc, i};
        CHECK(pthread_create(&th[i], NULL, sched_worker_main, &w[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < present; i++) pthread_join(th[i], NULL);
    int wrong = 0;
    for (int p = 0; p < npanels; p++) wrong += atomic_load(&sc.taken[p]) != 1;
    CHECK(wrong == 0, "scheduler %d ranges, %d threads, %d panels: %d panels not taken exactly once", nranges, present,
          npanels, wrong);
    CHECK(atomic_load(&sc.bad_hint) == 0, "scheduler gave out-of-range prefetch hints");
    free(sc.taken);
}

static void check_sched_order(void) {
    /* one owner alone: its own range front to back, then the back of the fullest other range */
    eva_panel_range r[3];
    eva_panel_ranges_init(r, 3, 10); /* ranges [0,3) [3,6) [6,10) */
    static const int want[10] = {0, 1, 2, 9, 5, 8, 4, 7, 3, 6};
    int got[11], next, n = 0, p;
    while (n < 11 && (p = eva_panel_take(r, 3, 0, &next)) >= 0) got[n++] = p;
    CHECK(n == 10, "single taker got %d panels of 10", n);
    bool same = n == 10;
    for (int i = 0; i < n && i < 10; i++) same = same && got[i] == want[i];
    CHECK(same, "single taker order %d %d %d %d %d %d %d %d %d %d", got[0], got[1], got[2], got[3], got[4], got[5],
          got[6], got[7], got[8], got[9]);
    eva_panel_ranges_init(r, 3, 10);
    CHECK(eva_panel_take(r, 3, 1, &next) == 3 && next == 4, "owner 1 starts at its front with hint 4 (got %d)", next);
}

int main(void) {
    g_rng = eva_rng_make(1234, 0);
    eva_pool *pool = NULL;
    CHECK_OK(eva_pool_create(2, &pool));
    const char *name = eva_gemm_kernel_name();
    printf("dispatcher picked: %s\n", name);
    CHECK(!strcmp(name, "avx512") || !strcmp(name, "avx2") || !strcmp(name, "reference"), "kernel name %s", name);

    static const int shapes[][3] = {
        {1, 1, 1},     {1, 32, 1},    {2, 3, 5},     {13, 31, 17},   {14, 32, 16},  {15, 33, 17},
        {1, 4224, 33}, {257, 1, 31},  {31, 13, 577}, {28, 64, 513},  {6, 16, 8},    {7, 17, 9},
        {257, 96, 31}, {577, 45, 19}, {40, 100, 300}, {337, 70, 20}, {700, 40, 40}, {3, 1000, 257},
        {33, 70, 1700}, /* three K blocks: bias on the first, GELU on the last */
    };
    for (size_t s = 0; s < EVA_ARRAY_LEN(shapes); s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int epi = 0; epi < 3; epi++) {
            check_case(pool, false, M, N, K, 0, 0, 0, epi, true);
            check_case(pool, false, M, N, K, 3, 5, 7, epi, epi != 1);
        }
        check_case(pool, true, M, N, K, 0, 0, 0, EVA_GEMM_STORE, false);
        check_case(pool, true, M, N, K, 2, 9, 4, EVA_GEMM_ACCUMULATE, false);
    }
    /* K = 0: only the epilogue */
    check_case(pool, false, 5, 7, 0, 1, 1, 1, EVA_GEMM_GELU, true);
    check_case(pool, false, 5, 7, 0, 1, 1, 1, EVA_GEMM_ACCUMULATE, true);
    /* EVA-giant batch 1: qkv-like / fc2-like (sanitizer builds run -O0: smaller stand-ins with
       the same blocking features, several K blocks and both thread chunks) */
#ifndef EVA_SANITIZED
    check_case(pool, false, 257, 4224, 1408, 0, 0, 0, EVA_GEMM_GELU, true);
    check_case(pool, false, 257, 1408, 6144, 0, 0, 0, EVA_GEMM_ACCUMULATE, true);
#else
    check_case(pool, false, 257, 256, 1408, 0, 0, 0, EVA_GEMM_GELU, true);
    check_case(pool, false, 341, 64, 1100, 0, 0, 0, EVA_GEMM_ACCUMULATE, true);
#endif
    /* more threads than this machine's cores: the shared A packing at batch 1 (gemm.c) then sees
       tiles claimed by a descheduled thread and packs them privately; results must not change */
    eva_pool *pool4 = NULL;
    CHECK_OK(eva_pool_create(4, &pool4));
    for (int rep = 0; rep < 3; rep++) {
        check_case(pool4, false, 257, 640, 700, 0, 0, 0, EVA_GEMM_GELU, true);
        check_case(pool4, false, 61, 300, 1700, 2, 1, 3, EVA_GEMM_ACCUMULATE, true);
    }
    eva_pool_free(pool4);
    check_gelu();
    check_sched_order();
    for (int present = 1; present <= 4; present++) {
        check_sched(4, present, 1000);
        check_sched(4, present, 3);
    }
    check_sched(EVA_PANEL_RANGES_MAX, 8, 5000);
    eva_pool_free(pool);
    return test_finish("test_gemm");
}
