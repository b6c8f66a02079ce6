/* arena.c — bump allocator for activations: one allocation, 64-byte aligned slices. */
#include "base.h"

size_t eva_arena_round(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

eva_status eva_arena_init(eva_arena *a, size_t bytes) {
    a->base = eva_aligned_alloc(bytes);
    a->size = a->base ? bytes : 0;
    a->used = 0;
    return a->base ? EVA_OK : EVA_ERR_NOMEM;
}

void *eva_arena_alloc(eva_arena *a, size_t bytes) {
    size_t need = eva_arena_round(bytes);
    if (a->used + need > a->size) return NULL;
    void *p = a->base + a->used;
    a->used += need;
    return p;
}

void eva_arena_reset(eva_arena *a) { a->used = 0; }

void eva_arena_free(eva_arena *a) {
    eva_aligned_free(a->base);
    a->base = NULL;
    a->size = a->used = 0;
}
