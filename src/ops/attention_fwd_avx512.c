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
 *  - Everything of a block of FQ = 48 queries is kept transposed, queries along the vector:
 *    qt[hd][48] (q, already scaled), the logit tile st[keys][48] and the output accumulator
 *    ot[hd][48]. Both products are then the same register tile, 3 vectors of 16 queries times a
 *    scalar broadcast for 8 rows (24 accumulators, the broadcast a load uop):
 *      S^T = K Q^T: st[j][.] += k_j[d] · qt[d][.]     for 8 keys j, over the channels d;
 *      O^T += V^T P^T: ot[c][.] += v_j[c] · st[j][.]  for 8 channels c, over the keys j.
 *    Nothing is transposed per key block, no lane is wasted on hd = 88 (an earlier P·V tile with
 *    channels along the vector used 6 vectors for 5.5), and each V element is loaded once per
 *    query block instead of once per 4 queries. q is transposed in, O out, by 16x16 register
 *    transposes, once per block.
 *  - The online softmax (running max, rescale factor, exp, row sums) runs across 48 queries at
 *    once (eva_exp512) on the rows of st.
 *  - Key blocks are FK = 64 keys; a last block of up to 16 more keys is merged into the one
 *    before it (257 tokens = 3 x 64 + 65, not 4 x 64 + 1: a 1-key block pays the whole per-block
 *    cost of the softmax and of loading and storing ot).
 * Query rows past N in the last block are zero queries: they compute finite garbage that is
 * never stored. Keys past N are never read (the last real key is repeated in the S micro-tile
 * and those logits are never used). */
#include "ops/attention_fast.h"
#include "ops/exp_avx512.h"
#include "ops/transpose16_avx512.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* QV vectors of 16 queries per block (3: 24 accumulators; measured 5-8 % faster than 2),
 * FK keys per softmax tile (up to FK_MAX with the merged remainder), FR keys per S micro-tile,
 * CR channels per O micro-tile. */
enum { QV = 3, FQ = 16 * QV, FK = 64, FK_MAX = FK + 16, FR = 8, CR = 8 };
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

/* st[j][0..FQ) = sum_d k_j[d] qt[d][0..FQ) for the nk (<= FK_MAX) keys at kbase (row stride row),
 * and mx[v] = max(mx[v], every new logit) while they are still in registers (the padding rows of
 * the last micro-tile repeat the last key, so they never raise the max). */
AI void logits_tile(const float *qt, const float *kbase, size_t row, int hd, int nk, float *st, __m512 *mx,
                    const int qv) {
    for (int j0 = 0; j0 < nk; j0 += FR) {
        const float *kp[FR];
        __m512 sv[FR][QV];
#pragma GCC unroll 8
        for (int r = 0; r < FR; r++) {
            kp[r] = kbase + (size_t)EVA_MIN(j0 + r, nk - 1) * row;
#pragma GCC unroll 4
            for (int v = 0; v < qv; v++) sv[r][v] = _mm512_setzero_ps();
        }
        for (int d = 0; d < hd; d++) {
#ifndef ATT_NO_KPF /* bench/attn_ab -b -DATT_NO_KPF measures without it */
            /* the next line of each of the 8 key rows: 8 streams a row (384 B) apart are more than
               the L1 prefetcher follows (with the V prefetch below: +4-6 % at N = 1601, +0-1 % at 257) */
            if ((d & 15) == 0)
#pragma GCC unroll 8
                for (int r = 0; r < FR; r++) _mm_prefetch((const char *)(kp[r] + d + 16), _MM_HINT_T0);
#endif
            __m512 q[QV];
#pragma GCC unroll 4
            for (int v = 0; v < qv; v++) q[v] = _mm512_load_ps(qt + (size_t)d * FQ + 16 * v);
#pragma GCC unroll 8
            for (int r = 0; r < FR; r++) {
                __m512 k = _mm512_set1_ps(kp[r][d]);
#pragma GCC unroll 4
                for (int v = 0; v < qv; v++) sv[r][v] = _mm512_fmadd_ps(k, q[v], sv[r][v]);
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < FR; r++) {
#pragma GCC unroll 4
            for (int v = 0; v < qv; v++) {
                _mm512_store_ps(st + (size_t)(j0 + r) * FQ + 16 * v, sv[r][v]);
                mx[v] = _mm512_max_ps(mx[v], sv[r][v]);
            }
        }
    }
}

/* ot[c][0..FQ) = alpha · ot[c] + sum_{j<nk} v_j[c] · st[j][0..FQ) for the ncr (<= CR) channels
 * from c0; v_j at vbase + j·krow. ncr is a constant at every call site, so the ncr x QV
 * accumulators stay in registers. */
AI void pv_tile(float *ot, const float *alpha, const float *st, const float *vbase, size_t krow, int nk, int c0,
                const int ncr, const int qv) {
    __m512 a[CR][QV];
#pragma GCC unroll 4
    for (int v = 0; v < qv; v++) {
        __m512 al = _mm512_load_ps(alpha + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < ncr; r++) a[r][v] = _mm512_mul_ps(_mm512_load_ps(ot + (size_t)(c0 + r) * FQ + 16 * v), al);
    }
    for (int j = 0; j < nk; j++) {
        const float *vj = vbase + (size_t)j * krow + c0;
#ifndef ATT_NO_VPF /* bench/attn_ab -b -DATT_NO_VPF */
        _mm_prefetch((const char *)(vj + 4 * krow), _MM_HINT_T0);   /* V rows 4 keys ahead */
#endif
        __m512 p[QV];
#pragma GCC unroll 4
        for (int v = 0; v < qv; v++) p[v] = _mm512_load_ps(st + (size_t)j * FQ + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < ncr; r++) {
            __m512 x = _mm512_set1_ps(vj[r]);
#pragma GCC unroll 4
            for (int v = 0; v < qv; v++) a[r][v] = _mm512_fmadd_ps(x, p[v], a[r][v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < ncr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < qv; v++) _mm512_store_ps(ot + (size_t)(c0 + r) * FQ + 16 * v, a[r][v]);
}

/* qt[d][0..FQ) = scale · q_{i0 + .}[d] for d < hd: the block's ni queries (row stride row, from
 * qbase) transposed 16 x 16 at a time, in the first qv vectors; query slots past ni are zero. */
AI void load_queries_t(float *qt, const float *qbase, size_t row, int i0, int ni, int hd, float scale, const int qv) {
    __m512 sc = _mm512_set1_ps(scale);
    for (int v = 0; v < qv; v++)
        for (int c0 = 0; c0 < hd; c0 += 16) {
            __mmask16 cm = c0 + 16 <= hd ? (__mmask16)0xFFFF : (__mmask16)((1u << (hd - c0)) - 1);
            __m512 r[16];
            for (int k = 0; k < 16; k++) {
                int i = 16 * v + k;
                r[k] = i < ni ? _mm512_maskz_loadu_ps(cm, qbase + (size_t)(i0 + i) * row + c0) : _mm512_setzero_ps();
            }
            transpose16(r);
            for (int d = 0; d < 16 && c0 + d < hd; d++)
                _mm512_store_ps(qt + (size_t)(c0 + d) * FQ + 16 * v, _mm512_mul_ps(r[d], sc));
        }
}

/* One block of up to FQ queries (from i0, in 16·qv slots) of head (b, h) against all N keys.
 * kb, vb: K and V of the head, row j at kb + j·krow (packed: krow = ld; in place: krow = 3D). */
AI void fa_block_qv(const fa_job *jb, int b, int h, int i0, const float *kb, const float *vb, size_t krow,
                    bool prefetch_next, const int qv) {
    int hd = jb->hd, N = jb->N, D = jb->D, ld = (hd + 15) / 16 * 16;
    size_t row = (size_t)3 * D;
    const float *qbase = jb->qkv + (size_t)b * N * row + (size_t)h * hd;   /* q of token 0, head h */
    int ni = EVA_MIN(FQ, N - i0);

    _Alignas(64) float qt[EVA_ATTN_FAST_MAX_HD * FQ];
    _Alignas(64) float ot[EVA_ATTN_FAST_MAX_HD * FQ];
    _Alignas(64) float st[FK_MAX * FQ];
    _Alignas(64) float alpha[FQ], lrow[FQ], mrow[FQ];

    load_queries_t(qt, qbase, row, i0, ni, hd, jb->scale, qv);
    memset(ot, 0, sizeof(float) * (size_t)ld * FQ);   /* rows hd..ld stay zero: read by the final transpose */
    __m512 m[QV], l[QV];
    for (int v = 0; v < qv; v++) m[v] = _mm512_set1_ps(-INFINITY), l[v] = _mm512_setzero_ps();
    const __m512 lo = _mm512_set1_ps(-88.0f);   /* exp(m_old - m_new) on the first block: -inf -> ~0 */

    /* the next block's queries (rows a page apart, not prefetched by the hardware) are fetched a
       slice per key block: measured 10 % of this function's time stalled on them otherwise */
    int next_rows = prefetch_next ? EVA_MIN(FQ, N - (i0 + FQ)) : 0;
    int key_blocks = N <= FK_MAX ? 1 : (N - 16 + FK - 1) / FK;   /* the last one merged */
    for (int k0 = 0, kbi = 0; k0 < N; k0 += FK, kbi++) {
        int nk = N - k0 <= FK_MAX ? N - k0 : FK;
        if (next_rows > 0) {
            int r0 = kbi * next_rows / key_blocks, r1 = (kbi + 1) * next_rows / key_blocks;
            prefetch_rows(qbase + (size_t)(i0 + FQ + r0) * row, row, r1 - r0, (size_t)hd * sizeof(float));
        }
        /* online softmax across the FQ queries: new max (formed by logits_tile), rescale factor,
           p = exp(s - max) */
        __m512 n[QV], a[QV], sum[QV];
#pragma GCC unroll 4
        for (int v = 0; v < qv; v++) n[v] = m[v], sum[v] = _mm512_setzero_ps();
        logits_tile(qt, kb + (size_t)k0 * krow, krow, hd, nk, st, n, qv);
#pragma GCC unroll 4
        for (int v = 0; v < qv; v++) a[v] = eva_exp512(_mm512_max_ps(_mm512_sub_ps(m[v], n[v]), lo));
        for (int j = 0; j < nk; j++) {
            float *sj = st + (size_t)j * FQ;
#pragma GCC unroll 4
            for (int v = 0; v < qv; v++) {
                __m512 p = eva_exp512(_mm512_sub_ps(_mm512_load_ps(sj + 16 * v), n[v]));
                _mm512_store_ps(sj + 16 * v, p);
                sum[v] = _mm512_add_ps(sum[v], p);
            }
        }
#pragma GCC unroll 4
        for (int v = 0; v < qv; v++) {
            l[v] = _mm512_fmadd_ps(l[v], a[v], sum[v]);
            m[v] = n[v];
            _mm512_store_ps(alpha + 16 * v, a[v]);
        }

        /* O^T = alpha · O^T + V^T P^T over this key block, CR channels at a time */
        const float *vbase = vb + (size_t)k0 * krow;
        int c0 = 0;
        for (; c0 + CR <= hd; c0 += CR) pv_tile(ot, alpha, st, vbase, krow, nk, c0, CR, qv);
        switch (hd - c0) {
        case 1: pv_tile(ot, alpha, st, vbase, krow, nk, c0, 1, qv); break;
        case 2: pv_tile(ot, alpha, st, vbase, krow, nk, c0, 2, qv); break;
        case 3: pv_tile(ot, alpha, st, vbase, krow, nk, c0, 3, qv); break;
        case 4: pv_tile(ot, alpha, st, vbase, krow, nk, c0, 4, qv); break;
        case 5: pv_tile(ot, alpha, st, vbase, krow, nk, c0, 5, qv); break;
        case 6: pv_tile(ot, alpha, st, vbase, krow, nk, c0, 6, qv); break;
        case 7: pv_tile(ot, alpha, st, vbase, krow, nk, c0, 7, qv); break;
        default: break;
        }
        if (nk != FK) break;   /* the merged last block */
    }

    /* out = O / l, transposed back 16 x 16 */
    for (int v = 0; v < qv; v++) _mm512_store_ps(lrow + 16 * v, l[v]), _mm512_store_ps(mrow + 16 * v, m[v]);
    for (int v = 0; v < qv && 16 * v < ni; v++) {
        int nq = EVA_MIN(16, ni - 16 * v);
        for (int c0 = 0; c0 < hd; c0 += 16) {
            __mmask16 cm = c0 + 16 <= hd ? (__mmask16)0xFFFF : (__mmask16)((1u << (hd - c0)) - 1);
            __m512 r[16];
            for (int k = 0; k < 16; k++) r[k] = _mm512_load_ps(ot + (size_t)(c0 + k) * FQ + 16 * v);
            transpose16(r);
            for (int i = 0; i < nq; i++) {
                float *o = jb->out + ((size_t)b * N + i0 + 16 * v + i) * D + (size_t)h * hd + c0;
                _mm512_mask_storeu_ps(o, cm, _mm512_mul_ps(r[i], _mm512_set1_ps(1.0f / lrow[16 * v + i])));
            }
        }
    }
    if (jb->lse)
        for (int i = 0; i < ni; i++) jb->lse[((size_t)b * jb->H + h) * N + i0 + i] = mrow[i] + logf(lrow[i]);
}

/* The last block of a head is often short (257 = 5 x 48 + 17, 577 = 12 x 48 + 1): it runs with as
 * few 16-query vectors as cover it instead of computing 48 query slots. */
static void fa_block(const fa_job *jb, int b, int h, int i0, const float *kb, const float *vb, size_t krow,
                     bool prefetch_next) {
    int ni = EVA_MIN(FQ, jb->N - i0);
    if (ni > 32) fa_block_qv(jb, b, h, i0, kb, vb, krow, prefetch_next, 3);
    else if (ni > 16) fa_block_qv(jb, b, h, i0, kb, vb, krow, prefetch_next, 2);
    else fa_block_qv(jb, b, h, i0, kb, vb, krow, prefetch_next, 1);
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
