/* test_attention_fast.c — the hand-vectorised AVX-512 attention forward (attention_fwd_avx512.c)
 * against the plain references, over odd shapes: N = 1, 5, 17, 50, 197, 257, 577 (partial
 * query and key blocks), head dims 8, 64, 80, 88 (88 = 5·16 + 8: masked tail), 1-3 heads,
 * batch 1-2, plus a giant-like head (N 1601, hd 88), peaky logits and a late maximum (online
 * softmax rescaling), lse for training, thread-count independence, the in-place (no workspace)
 * path and the previous tiles (EVA_ATTENTION=tile).
 * Tolerance: max|fast - ref| <= 1e-5 · max|ref| for out (the golden rule; both are fp32, they
 * differ only in summation order and exp polynomial), 2e-6 · max|lse| for lse. */
#include "test_util.h"
#include "base/base.h"
#include "ops/attention_fast.h"
#include "ops/backward.h"
#include "ops/ops.h"

static void fill(float *x, size_t n, uint64_t seed, float scale) {
    eva_rng r = eva_rng_make(seed, 0);
    for (size_t i = 0; i < n; i++) x[i] = (float)((eva_rng_uniform(&r) * 2 - 1) * scale);
}

static int have_avx512(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

/* One shape: the fast kernel directly (out and lse), and through both public entry points. */
static void check_case(eva_pool *pool, int B, int N, int hd, int H, float amp, uint64_t seed, int late_max) {
    int D = hd * H;
    size_t nq = (size_t)B * N * 3 * D, no = (size_t)B * N * D, nl = (size_t)B * H * N;
    float *qkv = malloc(4 * nq), *ref = malloc(4 * no), *got = malloc(4 * no);
    float *lref = malloc(4 * nl), *lgot = malloc(4 * nl), *oref2 = malloc(4 * no);
    CHECK(qkv && ref && got && lref && lgot && oref2, "out of memory");
    if (!qkv || !ref || !got || !lref || !lgot || !oref2) goto done;
    fill(qkv, nq, seed, amp);
    if (late_max)   /* keys grow along the sequence: the running max changes in every key block */
        for (int b = 0; b < B; b++)
            for (int n = 0; n < N; n++)
                for (int c = 0; c < D; c++) qkv[((size_t)b * N + n) * 3 * D + D + c] = 0.02f * n + 0.001f * c;
    char name[96];
    eva_attention_ref(qkv, ref, B, N, D, H);
    eva_attention_fwd_ref(qkv, oref2, lref, B, N, D, H);
    snprintf(name, sizeof name, "refs agree B%d N%d hd%d H%d", B, N, hd, H);
    test_compare(name, oref2, ref, no, 1e-5);

    eva_attention(pool, qkv, got, B, N, D, H);   /* dispatched: the fast kernel where AVX-512 exists */
    snprintf(name, sizeof name, "attention B%d N%d hd%d H%d a%g%s", B, N, hd, H, amp, late_max ? " late" : "");
    test_compare(name, got, ref, no, 1e-5);

    eva_attention_fwd(pool, qkv, got, lgot, B, N, D, H);   /* training forward: out + lse */
    snprintf(name, sizeof name, "fwd+lse out B%d N%d hd%d H%d", B, N, hd, H);
    test_compare(name, got, ref, no, 1e-5);
    snprintf(name, sizeof name, "fwd+lse lse B%d N%d hd%d H%d", B, N, hd, H);
    test_compare(name, lgot, lref, nl, 2e-6);

    setenv("EVA_ATTENTION", "tile", 1);   /* the previous (auto-vectorised) tiles stay selectable */
    eva_attention(pool, qkv, got, B, N, D, H);
    snprintf(name, sizeof name, "tile B%d N%d hd%d H%d", B, N, hd, H);
    test_compare(name, got, ref, no, 1e-5);
    eva_attention_fwd(pool, qkv, got, lgot, B, N, D, H);
    test_compare("  tile fwd+lse out", got, ref, no, 1e-5);
    test_compare("  tile fwd+lse lse", lgot, lref, nl, 2e-6);
    unsetenv("EVA_ATTENTION");

    if (have_avx512()) {   /* the kernel itself, not through the dispatch */
        memset(lgot, 0, 4 * nl);
        eva_attention_fwd_avx512(pool, qkv, got, lgot, B, N, D, H);
        snprintf(name, sizeof name, "avx512 out B%d N%d hd%d H%d", B, N, hd, H);
        test_compare(name, got, ref, no, 1e-5);
        snprintf(name, sizeof name, "avx512 lse B%d N%d hd%d H%d", B, N, hd, H);
        test_compare(name, lgot, lref, nl, 2e-6);
        eva_attention_fwd_avx512_ex(pool, qkv, got, lgot, B, N, D, H, false);   /* K/V read in place */
        snprintf(name, sizeof name, "avx512 in-place B%d N%d hd%d H%d", B, N, hd, H);
        test_compare(name, got, ref, no, 1e-5);
        test_compare("  its lse", lgot, lref, nl, 2e-6);
    }
done:
    free(qkv), free(ref), free(got), free(lref), free(lgot), free(oref2);
}

/* The result must not depend on how tasks fall on threads (each task owns its output rows). */
static void check_threads(void) {
    int B = 2, N = 197, hd = 88, H = 3, D = hd * H;
    size_t nq = (size_t)B * N * 3 * D, no = (size_t)B * N * D;
    float *qkv = malloc(4 * nq), *o1 = malloc(4 * no), *o3 = malloc(4 * no);
    eva_pool *p1, *p3;
    CHECK_OK(eva_pool_create(1, &p1));
    CHECK_OK(eva_pool_create(3, &p3));
    fill(qkv, nq, 99, 2.0f);
    eva_attention(p1, qkv, o1, B, N, D, H);
    eva_attention(p3, qkv, o3, B, N, D, H);
    CHECK(memcmp(o1, o3, 4 * no) == 0, "attention output depends on the thread count");
    eva_pool_free(p1);
    eva_pool_free(p3);
    free(qkv), free(o1), free(o3);
}

int main(void) {
    if (!have_avx512()) printf("note: no AVX-512 on this CPU, only the dispatch paths are checked\n");
    eva_pool *pool;
    CHECK_OK(eva_pool_create(2, &pool));
    static const int Ns[] = {1, 5, 17, 50, 197, 257, 577};
    static const int hds[] = {8, 64, 80, 88};
    int k = 0;
    for (size_t a = 0; a < EVA_ARRAY_LEN(Ns); a++)
        for (size_t c = 0; c < EVA_ARRAY_LEN(hds); c++, k++) {
            int H = 1 + k % 3, B = 1 + (k / 3) % 2;   /* every (N, hd) pair; heads and batch cycle */
            if (Ns[a] >= 257 && H * B > 3) B = 1;     /* keep the O(N^2) reference quick */
            check_case(pool, B, Ns[a], hds[c], H, 2.0f, 1000 + (uint64_t)k, 0);
        }
    check_case(pool, 1, 1601, 88, 1, 1.0f, 7, 0);    /* EVA-g at 560 px: one head */
    check_case(pool, 2, 130, 88, 2, 6.0f, 8, 0);     /* peaky softmax (logits ~ hundreds) */
    check_case(pool, 1, 300, 64, 2, 1.0f, 9, 1);     /* the max moves to every new key block */
    check_case(pool, 1, 70, 256, 1, 2.0f, 10, 0);    /* the largest head dim the kernel takes */
    check_case(pool, 1, 40, 112, 2, 2.0f, 11, 0);    /* hd > 96: two channel chunks, masked tail */
    /* key blocks of 64 with a remainder of <= 16 merged into the last block, 1/2/3-vector query
       blocks, channel tiles of 8 with a remainder (hd % 8 != 0) */
    check_case(pool, 1, 80, 20, 2, 2.0f, 12, 0);     /* one merged block of 80 keys; hd 20 = 2 x 8 + 4 */
    check_case(pool, 1, 81, 88, 1, 2.0f, 13, 1);     /* 64 + 17 keys, not merged */
    check_case(pool, 2, 145, 36, 2, 2.0f, 14, 0);    /* 64 + 64 + 17 keys; 145 = 3 x 48 + 1 queries */
    check_case(pool, 1, 144, 88, 1, 2.0f, 15, 1);    /* 64 + 80 keys, the max moving late */
    check_case(pool, 1, 113, 44, 3, 2.0f, 16, 0);    /* 113 = 2 x 48 + 17: a 2-vector last block */
    eva_pool_free(pool);
    check_threads();
    return test_finish("test_attention_fast");
}
