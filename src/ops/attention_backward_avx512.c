/* attention_backward_avx512.c — the training attention tiles (attention_train_tile.h) compiled
 * for AVX-512; called only after attention_backward.c's run-time CPU check. */
#include "ops/attention_train_tile.h"

void eva_attention_train_fwd_avx512(const attn_job *j, int task);
void eva_attention_train_bwd_avx512(const attn_job *j, int task);
void eva_attention_train_fwd_avx512(const attn_job *j, int task) { train_fwd_tile(j, task); }
void eva_attention_train_bwd_avx512(const attn_job *j, int task) { train_bwd_tile(j, task); }
