/* resize_internal.h — fast variants of the resize passes in preprocess.c (same results). */
#ifndef EVA_PIPELINES_RESIZE_INTERNAL_H
#define EVA_PIPELINES_RESIZE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

/* Horizontal pass of one row (see resize_avx2.c). Needs AVX2 (SSE4.1 integer ops). */
void eva_resize_hrow_avx2(const uint8_t *row, int W, int ww, const int *bounds, const int32_t *kk, int ksize,
                          uint8_t *out);
/* Tests: force the plain C reference (true) or allow the fast path (false, default). */
void eva_resize_force_reference(bool on);

#endif
