/* attention_fwd_avx512.c — streaming softmax attention forward, hand-vectorised for AVX-512.
 * Shapes: qkv [B, N, 3D] (q | k | v), out [B, N, D], lse [B, H, N] (optional, training),
 * H heads of hd = D/H <= EVA_ATTN_FAST_MAX_HD. Same maths as eva_attention_ref: q scaled by
 * hd^-1/2 before q·k^T, fp32 logits, softmax in fp32, no N x N matrix.
 *
 * Why this layout.
 *  - Task = (batch, head, chunk of query blocks); normally one chunk per head. The task first
 *    packs the head's K and V into a per-thread workspace, rows of ld = hd rounded up to 16
 *    floats, zero-padded: in qkv consecutive keys are 3D floats apart (a 4 KB page each at
 *    D = 1408), and every block of queries would otherwise re-fetch them with a TLB miss per key
 *    (measured: that cost ~25 % of the time at N = 1601). Packed, a head's K+V (1.2 MB at N 1601,
 *    hd 88) stays in L2 for all its query blocks. No workspace (allocation refused): read in place.
 *  - A block of FQ = 48 queries is transposed once into qt[hd][48] (already scaled), and the
 *    logits are formed as S^T = K Q^T: for each channel d, three vectors of 16 queries times
 *    k_j[d] broadcast for FR = 8 keys (24 accumulators, the broadcast a load uop). Nothing is
 *    transposed per key block (the generic tile spends a scalar hd x KB transpose of K on each).
 *  - The tile st[FK = 64][48] holds one row of 48 queries per key, so the online softmax
 *    (running max, rescale factor, exp, row sums) runs across 48 queries at once (eva_exp512).
 *  - O += P V: PR = 4 query rows x up to PW = 6 vectors of 16 channels (24 accumulators); each
 *    V row is loaded once per 4 queries and p_ij broadcast from st. hd = 88 = 5·16 + 8 is one
 *    6-vector chunk with a masked load/store on the last vector; hd > 96 runs in chunks of 96
 *    channels. The accumulators live in acc[48][ld] between key blocks, rescaled by the softmax
 *    factor as they are loaded.
 * Query rows past N in the last block are zero queries: they compute finite garbage that is
 * never stored. Keys past N are never read (the last real key is repeated in the S micro-tile
 * and those logits are never used). */
#include "ops/attention_fast.h"
#include "ops/exp_avx512.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* QV vectors of 16 queries per block (3: 24 S accumulators; measured 5-8 % faster than 2),
 * FK keys per softmax tile, FR keys per S micro-tile, PR query rows x PW channel vectors per P·V
 * micro-tile. */
enum { QV = 3, FQ = 16 * QV, FK = 64, FR = 8, PR = 4, PW = 6 };

typedef struct {
    const float *qkv;
    float *out, *lse;
    float *ws;              /* per-thread K/V workspace, ws_stride floats each, or NULL */
    size_t ws_stride;
    int B, N, D, H, hd, q_blocks, chunks, chunk_blocks;
    float scale;
} fa_job;

#define AI static inline __attribute__((always_inline))

/* Prefetch (into L2) `rows` rows of `bytes` bytes each, `row` floats apart: rows of qkv are a
 * page apart, so the hardware prefetchers never fetch them ahead. */
AI void prefetch_rows(const float *src, size_t row, int rows, size_t bytes) {
    for (int j = 0; j < rows; j++) {
        const char *p = (const char *)(src + (size_t)j * row);
        const char *end = p + bytes;
        for (p = (const char *)((uintptr_t)p & ~(uintptr_t)63); p < end; p += 64) _mm_prefetch(p, _MM_HINT_T1);
    }
}

/* Rows ahead that pack_rows prefetches (each miss is ~1 page walk + DRAM; 8 keep ~50 lines in flight) */
enum { PACK_AHEAD = 8 };

/* dst[j][0..ld) = src row j (stride row) for j < nk, channels past hd zeroed: the K or V rows of
 * one head made contiguous (see the top comment). */
AI void pack_rows(float *dst, int ld, const float *src, size_t row, int nk, int nv, __mmask16 tail) {
    prefetch_rows(src, row, EVA_MIN(PACK_AHEAD, nk), (size_t)ld * sizeof(float));
    for (int j = 0; j < nk; j++) {
        if (j + PACK_AHEAD < nk) prefetch_rows(src + (size_t)(j + PACK_AHEAD) * row, row, 1, (size_t)ld * sizeof(float));
        const float *s = src + (size_t)j * row;
        float *d = dst + (size_t)j * ld;
        for (int c = 0; c < nv - 1; c++) _mm512_store_ps(d + 16 * c, _mm512_loadu_ps(s + 16 * c));
        _mm512_store_ps(d + 16 * (nv - 1), _mm512_maskz_loadu_ps(tail, s + 16 * (nv - 1)));
    }
}

/* st[j][0..FQ) = sum_d k_j[d] qt[d][0..FQ) for the nk (<= FK) keys at kbase (row stride row). */
AI void logits_tile(const float *qt, const float *kbase, size_t row, int hd, int nk, float *st) {
    for (int j0 = 0; j0 < nk; j0 += FR) {
        const float *kp[FR];
        __m512 sv[FR][QV];
#pragma GCC unroll 8
        for (int r = 0; r < FR; r++) {
            kp[r] = kbase + (size_t)EVA_MIN(j0 + r, nk - 1) * row;
#pragma GCC unroll 4
            for (int v = 0; v < QV; v++) sv[r][v] = _mm512_setzero_ps();
        }
        for (int d = 0; d < hd; d++) {
            __m512 q[QV];
#pragma GCC unroll 4
            for (int v = 0; v < QV; v++) q[v] = _mm512_load_ps(qt + (size_t)d * FQ + 16 * v);
#pragma GCC unroll 8
            for (int r = 0; r < FR; r++) {
                __m512 k = _mm512_set1_ps(kp[r][d]);
#pragma GCC unroll 4
                for (int v = 0; v < QV; v++) sv[r][v] = _mm512_fmadd_ps(k, q[v], sv[r][v]);
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < FR; r++) {
#pragma GCC unroll 4
            for (int v = 0; v < QV; v++) _mm512_store_ps(st + (size_t)(j0 + r) * FQ + 16 * v, sv[r][v]);
        }
    }
}

/* acc[i0..i0+3][c0 .. c0+16·CW) = alpha_i · acc + sum_{j<nk} p[j][i] · v_j[c0 ..]; the last of
 * the CW vectors of v is loaded under `tail` (hd not a multiple of 16). CW is a constant at
 * every call site, so the 4 x CW accumulators stay in registers. */
AI void pv_rows(float *acc, int ld, const float *alpha, const float *st, int i0, const float *vbase, size_t row,
                int nk, int c0, const int CW, __mmask16 tail) {
    __m512 a[PR][PW];
#pragma GCC unroll 4
    for (int r = 0; r < PR; r++) {
        __m512 al = _mm512_set1_ps(alpha[i0 + r]);
#pragma GCC unroll 6
        for (int c = 0; c < CW; c++)
            a[r][c] = _mm512_mul_ps(_mm512_load_ps(acc + (size_t)(i0 + r) * ld + c0 + 16 * c), al);
    }
    for (int j = 0; j < nk; j++) {
        const float *v = vbase + (size_t)j * row + c0;
        const float *p = st + (size_t)j * FQ + i0;
        __m512 vv[PW];
#pragma GCC unroll 6
        for (int c = 0; c < CW; c++)
            vv[c] = c == CW - 1 ? _mm512_maskz_loadu_ps(tail, v + 16 * c) : _mm512_loadu_ps(v + 16 * c);
#pragma GCC unroll 4
        for (int r = 0; r < PR; r++) {
            __m512 pb = _mm512_set1_ps(p[r]);
#pragma GCC unroll 6
            for (int c = 0; c < CW; c++) a[r][c] = _mm512_fmadd_ps(pb, vv[c], a[r][c]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < PR; r++)
#pragma GCC unroll 6
        for (int c = 0; c < CW; c++) _mm512_store_ps(acc + (size_t)(i0 + r) * ld + c0 + 16 * c, a[r][c]);
}

/* One block of FQ queries (from i0) of head (b, h) against all N keys. kb, vb: K and V of the
 * head, row j at kb + j·krow (packed: krow = ld; in place: krow = 3D). */
static void fa_block(const fa_job *jb, int b, int h, int i0, const float *kb, const float *vb, size_t krow,
                     bool prefetch_next) {
    int hd = jb->hd, N = jb->N, D = jb->D, nv = (hd + 15) / 16, ld = nv * 16;
    size_t row = (size_t)3 * D;
    const float *qbase = jb->qkv + (size_t)b * N * row + (size_t)h * hd;   /* q of token 0, head h */
    int ni = EVA_MIN(FQ, N - i0), nr = (ni + PR - 1) / PR * PR;

    _Alignas(64) float qt[EVA_ATTN_FAST_MAX_HD * FQ];
    _Alignas(64) float acc[FQ * EVA_ATTN_FAST_MAX_HD];
    _Alignas(64) float st[FK * FQ];
    _Alignas(64) float alpha[FQ], lrow[FQ], mrow[FQ];

    memset(qt, 0, sizeof(float) * (size_t)hd * FQ);
    for (int i = 0; i < ni; i++) {
        const float *qi = qbase + (size_t)(i0 + i) * row;
        for (int d = 0; d < hd; d++) qt[(size_t)d * FQ + i] = qi[d] * jb->scale;
    }
    memset(acc, 0, sizeof(float) * (size_t)FQ * ld);
    __m512 m[QV], l[QV];
    for (int v = 0; v < QV; v++) m[v] = _mm512_set1_ps(-INFINITY), l[v] = _mm512_setzero_ps();
    const __m512 lo = _mm512_set1_ps(-88.0f);   /* exp(m_old - m_new) on the first block: -inf -> ~0 */
    int tail_bits = hd % 16;
    __mmask16 tail = tail_bits ? (__mmask16)((1u << tail_bits) - 1) : (__mmask16)0xFFFF;

    /* the next block's queries (rows a page apart, not prefetched by the hardware) are fetched a
       slice per key block: measured 10 % of this function's time stalled on them otherwise */
    int next_rows = prefetch_next ? EVA_MIN(FQ, N - (i0 + FQ)) : 0, key_blocks = (N + FK - 1) / FK;
    for (int k0 = 0; k0 < N; k0 += FK) {
        int nk = EVA_MIN(FK, N - k0);
        if (next_rows > 0) {
            int kbi = k0 / FK, r0 = kbi * next_rows / key_blocks, r1 = (kbi + 1) * next_rows / key_blocks;
            prefetch_rows(qbase + (size_t)(i0 + FQ + r0) * row, row, r1 - r0, (size_t)hd * sizeof(float));
        }
        logits_tile(qt, kb + (size_t)k0 * krow, krow, hd, nk, st);
        /* online softmax across the FQ queries: new max, rescale factor, p = exp(s - max) */
        __m512 n[QV], a[QV], sum[QV];
#pragma GCC unroll 4
        for (int v = 0; v < QV; v++) n[v] = m[v], sum[v] = _mm512_setzero_ps();
        for (int j = 0; j < nk; j++)
#pragma GCC unroll 4
            for (int v = 0; v < QV; v++) n[v] = _mm512_max_ps(n[v], _mm512_load_ps(st + (size_t)j * FQ + 16 * v));
#pragma GCC unroll 4
        for (int v = 0; v < QV; v++) a[v] = eva_exp512(_mm512_max_ps(_mm512_sub_ps(m[v], n[v]), lo));
        for (int j = 0; j < nk; j++) {
            float *sj = st + (size_t)j * FQ;
#pragma GCC unroll 4
            for (int v = 0; v < QV; v++) {
                __m512 p = eva_exp512(_mm512_sub_ps(_mm512_load_ps(sj + 16 * v), n[v]));
                _mm512_store_ps(sj + 16 * v, p);
                sum[v] = _mm512_add_ps(sum[v], p);
            }
        }
#pragma GCC unroll 4
        for (int v = 0; v < QV; v++) {
            l[v] = _mm512_fmadd_ps(l[v], a[v], sum[v]);
            m[v] = n[v];
            _mm512_store_ps(alpha + 16 * v, a[v]);
        }

        /* O = alpha · O + P V over this key block */
        const float *vbase = vb + (size_t)k0 * krow;
        for (int c0 = 0; c0 < nv; c0 += PW) {
            int cw = EVA_MIN(PW, nv - c0);
            __mmask16 tm = c0 + cw == nv ? tail : (__mmask16)0xFFFF;
            for (int r0 = 0; r0 < nr; r0 += PR) {
                switch (cw) {
                case 1: pv_rows(acc, ld, alpha, st, r0, vbase, krow, nk, 16 * c0, 1, tm); break;
                case 2: pv_rows(acc, ld, alpha, st, r0, vbase, krow, nk, 16 * c0, 2, tm); break;
                case 3: pv_rows(acc, ld, alpha, st, r0, vbase, krow, nk, 16 * c0, 3, tm); break;
                case 4: pv_rows(acc, ld, alpha, st, r0, vbase, krow, nk, 16 * c0, 4, tm); break;
                case 5: pv_rows(acc, ld, alpha, st, r0, vbase, krow, nk, 16 * c0, 5, tm); break;
                default: pv_rows(acc, ld, alpha, st, r0, vbase, krow, nk, 16 * c0, 6, tm); break;
                }
            }
        }
    }

    for (int v = 0; v < QV; v++) _mm512_store_ps(lrow + 16 * v, l[v]), _mm512_store_ps(mrow + 16 * v, m[v]);
    for (int i = 0; i < ni; i++) {
        float *o = jb->out + ((size_t)b * N + i0 + i) * D + (size_t)h * hd;
        __m512 inv = _mm512_set1_ps(1.0f / lrow[i]);
        for (int c = 0; c < nv; c++) {
            __m512 v = _mm512_mul_ps(_mm512_load_ps(acc + (size_t)i * ld + 16 * c), inv);
            _mm512_mask_storeu_ps(o + 16 * c, c == nv - 1 ? tail : (__mmask16)0xFFFF, v);
        }
        if (jb->lse) jb->lse[((size_t)b * jb->H + h) * N + i0 + i] = mrow[i] + logf(lrow[i]);
    }
}

/* Task (b, h, chunk of query blocks): K and V of the head are first packed into this thread's
 * workspace (contiguous rows of ld floats, zero-padded: qkv rows are 3D floats apart, a page
 * each at D = 1408, and would be re-fetched from memory with a TLB miss per key by every query
 * block); without a workspace they are read in place. */
static void fa_task(void *ctx, int task, int thread) {
    const fa_job *jb = ctx;
    int chunk = task % jb->chunks, bh = task / jb->chunks;
    int h = bh % jb->H, b = bh / jb->H;
    int qb0 = chunk * jb->chunk_blocks, qb1 = EVA_MIN(jb->q_blocks, qb0 + jb->chunk_blocks);
    if (qb0 >= qb1) return;
    int hd = jb->hd, N = jb->N, D = jb->D, nv = (hd + 15) / 16, ld = nv * 16;
    size_t row = (size_t)3 * D;
    const float *kb = jb->qkv + (size_t)b * N * row + D + (size_t)h * hd, *vb = kb + D;
    size_t krow = row;
    /* the first query block's rows arrive while K and V are packed (later blocks: fa_block) */
    prefetch_rows(jb->qkv + ((size_t)b * N + (size_t)qb0 * FQ) * row + (size_t)h * hd, row,
                  EVA_MIN(FQ, N - qb0 * FQ), (size_t)hd * sizeof(float));
    if (jb->ws) {
        float *kp = jb->ws + (size_t)thread * jb->ws_stride, *vp = kp + (size_t)N * ld;
        int tail_bits = hd % 16;
        __mmask16 tail = tail_bits ? (__mmask16)((1u << tail_bits) - 1) : (__mmask16)0xFFFF;
        pack_rows(kp, ld, kb, row, N, nv, tail);
        pack_rows(vp, ld, vb, row, N, nv, tail);
        kb = kp, vb = vp, krow = (size_t)ld;
    }
    for (int qb = qb0; qb < qb1; qb++) fa_block(jb, b, h, qb * FQ, kb, vb, krow, qb + 1 < qb1);
}

void eva_attention_fwd_avx512(eva_pool *pool, const float *qkv, float *out, float *lse, int B, int N, int D, int H) {
    eva_attention_fwd_avx512_ex(pool, qkv, out, lse, B, N, D, H, true);
}

void eva_attention_fwd_avx512_ex(eva_pool *pool, const float *qkv, float *out, float *lse, int B, int N, int D, int H,
                                 bool pack) {
    if (B <= 0 || N <= 0 || H <= 0) return;
    int hd = D / H, threads = eva_pool_threads(pool), q_blocks = (N + FQ - 1) / FQ;
    /* chunks per head: one when the heads alone give every thread >= 4 tasks (K/V packed once per
     * head), more otherwise so all threads have work */
    int heads = B * H, chunks = EVA_MIN(q_blocks, EVA_MAX(1, (4 * threads + heads - 1) / heads));
    int chunk_blocks = (q_blocks + chunks - 1) / chunks;
    chunks = (q_blocks + chunk_blocks - 1) / chunk_blocks;
    size_t ld = (size_t)(hd + 15) / 16 * 16, ws_stride = 2 * (size_t)N * ld;
    /* workspace: 2·N·ld floats per thread (1.2 MB at N 1601, hd 88); aligned_alloc, not
     * eva_aligned_alloc, so a refusal falls back to in-place reads without setting an error */
    float *ws = NULL;
    size_t bytes;
    if (pack && eva_size_mul(ws_stride * sizeof(float), (size_t)threads, &bytes)) ws = aligned_alloc(64, bytes);
    fa_job jb = {qkv, out, lse, ws, ws_stride, B, N, D, H, hd, q_blocks, chunks, chunk_blocks,
                 1.0f / sqrtf((float)hd)};
    eva_pool_run(pool, B * H * chunks, fa_task, &jb);
    free(ws);
}
