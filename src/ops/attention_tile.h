/* attention_tile.h — the streaming attention tile, included by attention.c (baseline ISA) and
 * attention_avx512.c (same code compiled for AVX-512, selected at run time). The loops are
 * written so the compiler vectorises them: the key block is transposed once into kt[hd][KB] so
 * q·k^T runs along contiguous keys, and exp is a branch-free polynomial (eva_expf_poly) instead
 * of libm's scalar expf. Shapes: qkv [B, N, 3D], out [B, N, D], H heads of hd = D/H. */
#ifndef EVA_ATTENTION_TILE_H
#define EVA_ATTENTION_TILE_H

#include "ops/expf_poly.h"
#include "ops/ops.h"

#include <math.h>
#include <string.h>

enum { QB = 32, KB = 64, MAX_HD = 256 };

typedef struct {
    const float *qkv;
    float *out;
    int B, N, D, H, hd, q_blocks;
    float scale;
} attn_job;

static inline void attention_tile(const attn_job *j, int task) {
    int qb = task % j->q_blocks, bh = task / j->q_blocks;
    int h = bh % j->H, b = bh / j->H;
    int hd = j->hd, N = j->N, D = j->D;
    size_t row = (size_t)3 * D;
    const float *base = j->qkv + (size_t)b * N * row;
    int i0 = qb * QB, ni = N - i0 < QB ? N - i0 : QB;

    float q[QB][MAX_HD], acc[QB][MAX_HD];
    float kt[MAX_HD][KB];
    float s[QB][KB];
    float m[QB], l[QB];
    for (int i = 0; i < ni; i++) {
        const float *qi = base + (size_t)(i0 + i) * row + (size_t)h * hd;
        for (int d = 0; d < hd; d++) {
            q[i][d] = qi[d] * j->scale;
            acc[i][d] = 0;
        }
        m[i] = -INFINITY;
        l[i] = 0;
    }
    for (int k0 = 0; k0 < N; k0 += KB) {
        int nk = N - k0 < KB ? N - k0 : KB;
        for (int kk = 0; kk < nk; kk++) {
            const float *kr = base + (size_t)(k0 + kk) * row + D + (size_t)h * hd;
            for (int d = 0; d < hd; d++) kt[d][kk] = kr[d];
        }
        for (int kk = nk; kk < KB; kk++)
            for (int d = 0; d < hd; d++) kt[d][kk] = 0;
        for (int i = 0; i < ni; i++) {
            float *si = s[i];
            for (int kk = 0; kk < KB; kk++) si[kk] = 0;
            for (int d = 0; d < hd; d++) {
                float qd = q[i][d];
                const float *kd = kt[d];
                for (int kk = 0; kk < KB; kk++) si[kk] += qd * kd[kk];
            }
            float mx = m[i];
            for (int kk = 0; kk < nk; kk++) mx = si[kk] > mx ? si[kk] : mx;
            float alpha = m[i] == -INFINITY ? 0.0f : eva_expf_poly(m[i] - mx);
            float sum = 0;
            for (int kk = 0; kk < nk; kk++) {
                si[kk] = eva_expf_poly(si[kk] - mx);
                sum += si[kk];
            }
            l[i] = l[i] * alpha + sum;
            m[i] = mx;
            float *ai = acc[i];
            for (int d = 0; d < hd; d++) ai[d] *= alpha;
            for (int kk = 0; kk < nk; kk++) {
                const float *vr = base + (size_t)(k0 + kk) * row + 2 * (size_t)D + (size_t)h * hd;
                float p = si[kk];
                for (int d = 0; d < hd; d++) ai[d] += p * vr[d];
            }
        }
    }
    for (int i = 0; i < ni; i++) {
        float *o = j->out + ((size_t)b * N + i0 + i) * D + (size_t)h * hd;
        float inv = 1.0f / l[i];
        for (int d = 0; d < hd; d++) o[d] = acc[i][d] * inv;
    }
}

#endif
