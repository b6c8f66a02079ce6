/* cpu.c — one answer to "may the *_avx512.c code run here?", for every run-time dispatch. */
#include "base/base.h"

#include <pthread.h>

static bool g_avx512;
static pthread_once_t g_avx512_once = PTHREAD_ONCE_INIT;

/* The instruction sets CMake compiles *_avx512.c with (F, BW, DQ, VL, VNNI, plus AVX2 and FMA;
 * F16C, also on that list, comes with every AVX-512 CPU and clang's builtin cannot name it): the
 * compiler may use any of them anywhere in those files, so testing only avx512f would let an
 * AVX-512F-only CPU (Knights Landing) reach an illegal instruction. */
static void detect_avx512(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    g_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
#endif
}

bool eva_cpu_avx512(void) {
    pthread_once(&g_avx512_once, detect_avx512);
    return g_avx512;
}
