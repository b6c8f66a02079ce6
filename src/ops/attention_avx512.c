/* attention_avx512.c — the streaming attention tile compiled for AVX-512 (see attention_tile.h). */
#include "ops/attention_tile.h"

void eva_attention_tile_avx512(const attn_job *j, int task);
void eva_attention_tile_avx512(const attn_job *j, int task) { attention_tile(j, task); }
