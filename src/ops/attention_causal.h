/* attention_causal.h — causal (autoregressive) multi-head self-attention over a ragged batch of
 * sequences, as used by the CLIP text tower (open_clip TextTransformer: nn.MultiheadAttention
 * with attn_mask = -inf strictly above the diagonal).
 *
 * Shapes: S sequences of lengths L_s packed one after another (R = sum L_s rows), width D,
 * H heads, hd = D / H.
 *   qkv [R, 3D]: row r = q | k | v of one token; head h owns channels [h*hd, (h+1)*hd) of each.
 *   out [R, D]:  heads concatenated.
 *   offsets[S+1]: sequence s occupies rows [offsets[s], offsets[s+1]).
 * Query i of a sequence attends to keys j <= i of the same sequence only. q is scaled by
 * hd^-0.5 before q·k^T; logits and softmax in fp32.
 *
 * Why ragged: CLIP pools the text at its end-of-text token, and with a causal mask no position
 * after it can influence it, so the text tower only computes positions 0..EOT of each text
 * (typically 10-20 of the 77). Packing texts back to back keeps the GEMMs large. */
#ifndef EVA_OPS_ATTENTION_CAUSAL_H
#define EVA_OPS_ATTENTION_CAUSAL_H

#include "base/base.h"

/* Reference: one query row at a time, logits in a row of at most max_len floats; obviously
 * right. Returns false only if its scratch allocation fails. */
bool eva_attention_causal_ref(const float *qkv, float *out, const int *offsets, int S, int D, int H);
/* Same math, threads over (sequence, head) pairs; K transposed per pair so the logit loop
 * vectorises over keys (per-thread heap scratch of (hd+1)·L floats; sequences longer than 4096,
 * no pool or no memory fall back to the reference). Within 1e-6 relative of the reference (the
 * test checks); at CLIP sizes attention is a small part of the text tower's time. */
void eva_attention_causal(eva_pool *pool, const float *qkv, float *out, const int *offsets, int S, int D, int H);

#endif
