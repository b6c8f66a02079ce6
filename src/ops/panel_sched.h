/* panel_sched.h — which thread multiplies which 32-wide weight panel, for the GEMM drivers
 * (gemm.c, gemm_bf16.c, gemm_q8.c) when all rows fit in one row block (batch 1).
 * Shapes: npanels panels of one GEMM (or of one K block of it), nranges <= EVA_PANEL_RANGES_MAX.
 *
 * Why not a fixed split: at batch 1 a GEMM is one task per thread, so the whole call waits for
 * the slowest thread, and on a shared or virtual machine a thread is regularly descheduled for
 * milliseconds. Measured on the 2-vCPU VM (EVA-g 224 px, 2 threads, 644 GEMM calls): 1.5 s of
 * 11.5 s of GEMM wall time was one thread waiting for the other. Here the panels are cut into one
 * contiguous range per thread; a thread takes panels from the front of its own range (so the
 * next weight panel it prefetches is the one it will use) and, when that is empty, steals single
 * panels from the back of the fullest other range. Which thread computes a panel never changes
 * its bits: every panel is one fixed sequence of kernel calls. */
#ifndef EVA_OPS_PANEL_SCHED_H
#define EVA_OPS_PANEL_SCHED_H

#include <stdatomic.h>
#include <stdint.h>

#define EVA_PANEL_RANGES_MAX 64

/* span = front | back << 32: panels [front, back) are still to be taken */
typedef struct eva_panel_range {
    _Alignas(64) _Atomic uint64_t span;
} eva_panel_range;

static inline void eva_panel_ranges_init(eva_panel_range *r, int nranges, int npanels) {
    for (int i = 0; i < nranges; i++) {
        uint64_t front = (uint64_t)((long long)i * npanels / nranges);
        uint64_t back = (uint64_t)((long long)(i + 1) * npanels / nranges);
        atomic_store_explicit(&r[i].span, front | back << 32, memory_order_relaxed);
    }
}

static inline uint32_t eva_panel_span_left(uint64_t s) {
    uint32_t front = (uint32_t)s, back = (uint32_t)(s >> 32);
    return back > front ? back - front : 0;
}

/* Takes one panel for the task that owns range `self`; -1 when none is left anywhere. *next is
 * the panel this task will most likely take after it (-1: unknown), for prefetching its weights.
 * Relaxed atomics suffice: the panels' outputs are published by the pool's end-of-job barrier. */
static inline int eva_panel_take(eva_panel_range *r, int nranges, int self, int *next) {
    uint64_t s = atomic_load_explicit(&r[self].span, memory_order_relaxed);
    while (eva_panel_span_left(s) > 0) {
        if (atomic_compare_exchange_weak_explicit(&r[self].span, &s, s + 1, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *next = eva_panel_span_left(s) > 1 ? (int)(uint32_t)s + 1 : -1;
            return (int)(uint32_t)s;
        }
    }
    for (;;) {
        int victim = -1;
        uint32_t most = 0;
        for (int i = 0; i < nranges; i++) {
            uint32_t left = eva_panel_span_left(atomic_load_explicit(&r[i].span, memory_order_relaxed));
            if (left > most) {
                most = left;
                victim = i;
            }
        }
        if (victim < 0) {
            *next = -1;
            return -1;
        }
        uint64_t v = atomic_load_explicit(&r[victim].span, memory_order_relaxed);
        while (eva_panel_span_left(v) > 0) {
            if (atomic_compare_exchange_weak_explicit(&r[victim].span, &v, v - ((uint64_t)1 << 32),
                                                      memory_order_relaxed, memory_order_relaxed)) {
                int taken = (int)(uint32_t)(v >> 32) - 1;
                *next = eva_panel_span_left(v) > 1 ? taken - 1 : -1;
                return taken;
            }
        }
    }
}

#endif
