/* attention_train_tile.h — the streaming attention tiles of training (forward with log-sum-exp,
 * FlashAttention-2 backward), included by attention_backward.c (baseline ISA) and
 * attention_backward_avx512.c (the same code compiled for AVX-512, picked at run time). The
 * loops are written for the vectoriser: key blocks transposed into kt/vt [hd][KB] so the S and dP
 * products run along contiguous keys, and exp is a branch-free polynomial (train_expf).
 * Shapes: qkv, dqkv [B,N,3D]; out, dout [B,N,D]; lse [B,H,N]; hd = D/H. */
#ifndef EVA_ATTENTION_TRAIN_TILE_H
#define EVA_ATTENTION_TRAIN_TILE_H

#include "ops/backward.h"
#include "ops/expf_poly.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ROW(b, n) (((size_t)(b) * N + (size_t)(n)) * 3 * (size_t)D)

enum { QB = 32, KB = 64 };

typedef struct {
    const float *qkv, *out, *lse, *dout;
    float *o, *l, *dqkv;
    int B, N, D, H, hd, q_blocks;
    float scale;
} attn_job;

/* exp of softmax arguments (s - running max, s - lse): the shared polynomial */
#define train_expf eva_expf_poly

/* ---------------------------------------------------------------- streaming forward
 * Tiles of QB query rows x KB keys with an online softmax (as eva_attention), plus
 * lse = m + log(l) at the end. Tasks: (batch, head, query block). */
static inline void train_fwd_tile(const attn_job *j, int task) {
    int qb = task % j->q_blocks, bh = task / j->q_blocks;
    int h = bh % j->H, b = bh / j->H;
    int hd = j->hd, N = j->N, D = j->D;
    int i0 = qb * QB, ni = EVA_MIN(QB, N - i0);
    float *mem = malloc(sizeof(float) * ((size_t)2 * QB * hd + (size_t)hd * KB + (size_t)QB * KB));
    if (!mem) return;
    float *q = mem, *acc = q + (size_t)QB * hd, *kt = acc + (size_t)QB * hd, *s = kt + (size_t)hd * KB;
    float m[QB], l[QB];
    for (int i = 0; i < ni; i++) {
        const float *qi = j->qkv + ROW(b, i0 + i) + (size_t)h * hd;
        for (int d = 0; d < hd; d++) {
            q[(size_t)i * hd + d] = qi[d] * j->scale;
            acc[(size_t)i * hd + d] = 0;
        }
        m[i] = -INFINITY;
        l[i] = 0;
    }
    for (int k0 = 0; k0 < N; k0 += KB) {
        int nk = EVA_MIN(KB, N - k0);
        for (int kk = 0; kk < nk; kk++) {
            const float *kr = j->qkv + ROW(b, k0 + kk) + D + (size_t)h * hd;
            for (int d = 0; d < hd; d++) kt[(size_t)d * KB + kk] = kr[d];
        }
        for (int i = 0; i < ni; i++) {
            float *si = s + (size_t)i * KB;
            const float *qi = q + (size_t)i * hd;
            for (int kk = 0; kk < KB; kk++) si[kk] = 0;
            for (int d = 0; d < hd; d++) {
                float qd = qi[d];
                const float *kd = kt + (size_t)d * KB;
                for (int kk = 0; kk < KB; kk++) si[kk] += qd * kd[kk];
            }
            float mx = m[i];
            for (int kk = 0; kk < nk; kk++) mx = si[kk] > mx ? si[kk] : mx;
            float alpha = train_expf(m[i] - mx);
            float sum = 0;
            for (int kk = 0; kk < nk; kk++) {
                si[kk] = train_expf(si[kk] - mx);
                sum += si[kk];
            }
            l[i] = l[i] * alpha + sum;
            m[i] = mx;
            float *ai = acc + (size_t)i * hd;
            for (int d = 0; d < hd; d++) ai[d] *= alpha;
            for (int kk = 0; kk < nk; kk++) {
                const float *vr = j->qkv + ROW(b, k0 + kk) + 2 * (size_t)D + (size_t)h * hd;
                float pv = si[kk];
                for (int d = 0; d < hd; d++) ai[d] += pv * vr[d];
            }
        }
    }
    for (int i = 0; i < ni; i++) {
        float *o = j->o + ((size_t)b * N + i0 + i) * D + (size_t)h * hd;
        float inv = 1.0f / l[i];
        for (int d = 0; d < hd; d++) o[d] = acc[(size_t)i * hd + d] * inv;
        j->l[((size_t)b * j->H + h) * N + i0 + i] = m[i] + logf(l[i]);
    }
    free(mem);
}

/* ---------------------------------------------------------------- streaming backward
 * One task per (batch, head): it owns the dQ, dK, dV columns of that head for every token, so
 * they accumulate without atomics. Query blocks outer, key blocks inner:
 *   S = Qs K^T, P = exp(S - lse), dP = dO V^T, dS = P (dP - Δ)
 *   dQ_blk += scale dS K ;  dK_blk += dS^T Qs ;  dV_blk += P^T dO
 * K and V of a key block are transposed once into kt/vt [hd][KB] so the two S-shaped products
 * run over keys contiguously; the three accumulations run over hd contiguously. */
static inline void train_bwd_tile(const attn_job *j, int task) {
    int h = task % j->H, b = task / j->H;
    int hd = j->hd, N = j->N, D = j->D;
    size_t hoff = (size_t)h * hd;
    for (int n = 0; n < N; n++) {
        float *r = j->dqkv + ROW(b, n) + hoff;
        memset(r, 0, sizeof(float) * hd);
        memset(r + D, 0, sizeof(float) * hd);
        memset(r + 2 * D, 0, sizeof(float) * hd);
    }
    size_t need = (size_t)3 * QB * hd + (size_t)2 * hd * KB + (size_t)2 * QB * KB;
    float *mem = malloc(sizeof(float) * need);
    if (!mem) return;
    float *q = mem, *dO = q + (size_t)QB * hd, *dq = dO + (size_t)QB * hd, *kt = dq + (size_t)QB * hd;
    float *vt = kt + (size_t)hd * KB, *s = vt + (size_t)hd * KB, *dp = s + (size_t)QB * KB;
    float L[QB], delta[QB];
    for (int i0 = 0; i0 < N; i0 += QB) {
        int ni = EVA_MIN(QB, N - i0);
        for (int i = 0; i < ni; i++) {
            const float *qi = j->qkv + ROW(b, i0 + i) + hoff;
            const float *oi = j->out + ((size_t)b * N + i0 + i) * D + hoff;
            const float *doi = j->dout + ((size_t)b * N + i0 + i) * D + hoff;
            float dl = 0;
            for (int d = 0; d < hd; d++) {
                q[(size_t)i * hd + d] = qi[d] * j->scale;
                dO[(size_t)i * hd + d] = doi[d];
                dq[(size_t)i * hd + d] = 0;
                dl += doi[d] * oi[d];
            }
            delta[i] = dl;
            L[i] = j->lse[((size_t)b * j->H + h) * N + i0 + i];
        }
        for (int k0 = 0; k0 < N; k0 += KB) {
            int nk = EVA_MIN(KB, N - k0);
            for (int kk = 0; kk < nk; kk++) {
                const float *kr = j->qkv + ROW(b, k0 + kk) + D + hoff;
                for (int d = 0; d < hd; d++) {
                    kt[(size_t)d * KB + kk] = kr[d];
                    vt[(size_t)d * KB + kk] = kr[D + d];
                }
            }
            for (int i = 0; i < ni; i++) {
                float *si = s + (size_t)i * KB, *dpi = dp + (size_t)i * KB;
                const float *qi = q + (size_t)i * hd, *doi = dO + (size_t)i * hd;
                for (int kk = 0; kk < KB; kk++) si[kk] = dpi[kk] = 0;
                for (int d = 0; d < hd; d++) {
                    float qd = qi[d], od = doi[d];
                    const float *kd = kt + (size_t)d * KB, *vd = vt + (size_t)d * KB;
                    for (int kk = 0; kk < KB; kk++) {
                        si[kk] += qd * kd[kk];
                        dpi[kk] += od * vd[kk];
                    }
                }
                for (int kk = 0; kk < nk; kk++) {
                    float pv = train_expf(si[kk] - L[i]);
                    si[kk] = pv;                          /* P */
                    dpi[kk] = pv * (dpi[kk] - delta[i]);  /* dS */
                }
                float *dqi = dq + (size_t)i * hd;
                for (int kk = 0; kk < nk; kk++) {
                    const float *kr = j->qkv + ROW(b, k0 + kk) + D + hoff;
                    float ds = dpi[kk] * j->scale;
                    for (int d = 0; d < hd; d++) dqi[d] += ds * kr[d];
                }
            }
            for (int kk = 0; kk < nk; kk++) {
                float *dk = j->dqkv + ROW(b, k0 + kk) + D + hoff, *dv = dk + D;
                for (int i = 0; i < ni; i++) {
                    float ds = dp[(size_t)i * KB + kk], pv = s[(size_t)i * KB + kk];
                    const float *qi = q + (size_t)i * hd, *doi = dO + (size_t)i * hd;
                    for (int d = 0; d < hd; d++) {
                        dk[d] += ds * qi[d];
                        dv[d] += pv * doi[d];
                    }
                }
            }
        }
        for (int i = 0; i < ni; i++) {
            float *dqr = j->dqkv + ROW(b, i0 + i) + hoff;
            for (int d = 0; d < hd; d++) dqr[d] = dq[(size_t)i * hd + d];
        }
    }
    free(mem);
}

#endif
