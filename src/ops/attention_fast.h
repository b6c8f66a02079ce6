/* attention_fast.h — the hand-vectorised AVX-512 attention forward (attention_fwd_avx512.c),
 * shared by the inference entry point (attention.c, no lse) and the training forward
 * (attention_backward.c, with lse). Shapes: qkv [B, N, 3D] (q | k | v, head h = channels
 * [h hd, (h+1) hd) of each), out [B, N, D], lse [B, H, N] or NULL; hd = D/H.
 * Call only after a run-time check that the CPU has AVX-512F, and only for
 * hd <= EVA_ATTN_FAST_MAX_HD (its per-task buffers live on the stack). */
#ifndef EVA_OPS_ATTENTION_FAST_H
#define EVA_OPS_ATTENTION_FAST_H

#include "base/base.h"

enum { EVA_ATTN_FAST_MAX_HD = 256 };

void eva_attention_fwd_avx512(eva_pool *pool, const float *qkv, float *out, float *lse, int B, int N, int D, int H);
/* pack = false: K/V read in place from qkv (the path taken when the per-thread workspace,
 * 2·N·hd floats a thread, cannot be allocated); for the tests. */
void eva_attention_fwd_avx512_ex(eva_pool *pool, const float *qkv, float *out, float *lse, int B, int N, int D, int H,
                                 bool pack);

#endif
