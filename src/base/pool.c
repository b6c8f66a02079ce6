/* pool.c — a fixed thread pool. Work is handed out by an atomic task counter so uneven tasks
 * balance themselves; workers spin briefly before sleeping because a forward pass issues a few
 * hundred short parallel regions and a futex wake-up per region would cost more than the work. */
#include "base.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif

struct eva_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv_work;
    pthread_cond_t cv_done;
    /* current job */
    eva_pool_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next_task;
    atomic_int active_workers;   /* workers still inside the current job */
    atomic_uint generation;      /* bumped per job */
    bool quit;
};

typedef struct { eva_pool *p; int index; } worker_arg;

static void drain(eva_pool *p, int thread) {
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed);
        if (t >= p->n_tasks) break;
        p->fn(p->ctx, t, thread);
    }
}

static void *worker_main(void *arg) {
    worker_arg wa = *(worker_arg *)arg;
    eva_pool *p = wa.p;
    eva_aligned_free(arg);
    unsigned seen = 0;
    for (;;) {
        /* spin a little for the next job before sleeping */
        unsigned gen = 0;
        for (int spin = 0; spin < 20000; spin++) {
            gen = atomic_load_explicit(&p->generation, memory_order_acquire);
            if (gen != seen) break;
            cpu_relax();
        }
        if (gen == seen) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->generation) == seen && !p->quit) pthread_cond_wait(&p->cv_work, &p->mu);
            bool quit = p->quit;
            gen = atomic_load(&p->generation);
            pthread_mutex_unlock(&p->mu);
            if (quit && gen == seen) return NULL;
        }
        seen = gen;
        drain(p, wa.index);
        if (atomic_fetch_sub_explicit(&p->active_workers, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

int eva_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

eva_status eva_pool_create(int n_threads, eva_pool **out) {
    *out = NULL;
    if (n_threads <= 0) n_threads = eva_cpu_count();
    if (n_threads > 1024) return eva_fail(EVA_ERR_INVALID_ARG, "thread count %d is too large", n_threads);
    eva_pool *p = eva_calloc(1, sizeof *p);
    if (!p) return EVA_ERR_NOMEM;
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    p->threads = eva_calloc((size_t)n_threads, sizeof(pthread_t));
    if (!p->threads) { eva_pool_free(p); return EVA_ERR_NOMEM; }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = eva_aligned_alloc(sizeof *wa);
        if (!wa) { p->n_threads = i; eva_pool_free(p); return EVA_ERR_NOMEM; }
        wa->p = p;
        wa->index = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            eva_aligned_free(wa);
            p->n_threads = i;
            eva_pool_free(p);
            return eva_fail(EVA_ERR_NOMEM, "could not start worker thread %d", i);
        }
    }
    *out = p;
    return EVA_OK;
}

int eva_pool_threads(const eva_pool *p) { return p ? p->n_threads : 1; }

void eva_pool_run(eva_pool *p, int n_tasks, eva_pool_fn fn, void *ctx) {
    if (n_tasks <= 0) return;
    if (!p || p->n_threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next_task, 0);
    atomic_store(&p->active_workers, p->n_threads - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    drain(p, 0);
    for (int spin = 0; spin < 200000 && atomic_load_explicit(&p->active_workers, memory_order_acquire) > 0; spin++)
        cpu_relax();
    if (atomic_load(&p->active_workers) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->active_workers) > 0) pthread_cond_wait(&p->cv_done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

void eva_pool_free(eva_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++)
        if (p->threads && p->threads[i]) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    free(p->threads);
    free(p);
}
