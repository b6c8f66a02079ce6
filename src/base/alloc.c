/* alloc.c — allocation that reports instead of crashing, with overflow-checked sizes. */
#include "base.h"

#include <stdint.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* Nothing eva.c legitimately allocates in one piece exceeds this; larger requests come from
 * lying headers and are refused before they reach the allocator. */
#define EVA_MAX_ALLOC ((size_t)1 << 40)

bool eva_size_mul(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

void *eva_malloc(size_t n) {
    if (n > EVA_MAX_ALLOC) {
        eva_fail(EVA_ERR_NOMEM, "refusing to allocate %zu bytes", n);
        return NULL;
    }
    void *p = malloc(n ? n : 1);
    if (!p) eva_fail(EVA_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *eva_calloc(size_t count, size_t size) {
    size_t n;
    if (!eva_size_mul(count, size, &n) || n > EVA_MAX_ALLOC) {
        eva_fail(EVA_ERR_NOMEM, "refusing to allocate %zu x %zu bytes", count, size);
        return NULL;
    }
    void *p = calloc(n ? n : 1, 1);
    if (!p) eva_fail(EVA_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

/* Big blocks (weights, activation arenas, optimizer state, mapped checkpoints) are asked for
 * transparent huge pages. Measured on the 2-core VM (THP in "madvise" mode): the fp32 GEMM
 * streaming EVA-g weights from DRAM ran at 110-148 GFLOP/s on one thread with 4 KB pages and a
 * steady 147-152 with huge pages (hot weights: 146-155): with 4 KB pages every weight panel
 * walks ~50 pages. EVA_HUGEPAGES=0 turns the advice off. */
#define EVA_HUGE_MIN ((size_t)8 << 20)
#define EVA_HUGE_ALIGN ((size_t)2 << 20)

static bool hugepages_wanted(size_t n) {
    if (n < EVA_HUGE_MIN) return false;
    const char *env = getenv("EVA_HUGEPAGES");
    return !(env && env[0] == '0');
}

/* madvise wants a page-aligned start; the advice is best effort, a refusal changes nothing */
static void advise_huge(void *p, size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    uintptr_t start = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, end = (uintptr_t)p + n;
    if (end > start) (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

void eva_advise_hugepages(void *p, size_t n) {
    if (p && hugepages_wanted(n)) advise_huge(p, n);
}

void *eva_aligned_alloc(size_t n) {
    if (n > EVA_MAX_ALLOC) {
        eva_fail(EVA_ERR_NOMEM, "refusing to allocate %zu bytes", n);
        return NULL;
    }
    void *p = NULL;
    bool huge = hugepages_wanted(n);
    size_t align = huge ? EVA_HUGE_ALIGN : 64;
    size_t bytes = n ? (n + align - 1) & ~(align - 1) : 64;
    if (posix_memalign(&p, align, bytes) != 0) {
        eva_fail(EVA_ERR_NOMEM, "out of memory allocating %zu bytes", n);
        return NULL;
    }
    if (huge) advise_huge(p, bytes);
    return p;
}

void eva_aligned_free(void *p) { free(p); }

char *eva_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = eva_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
