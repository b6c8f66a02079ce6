/* schedule.c — EVA-01/BEiT utils.cosine_scheduler as a closed form (no table): the value at
 * iteration it is what the official numpy array holds at index it.
 *   warm-up  it < W:  np.linspace(start, base, W)[it] = start + it * (base - start) / (W - 1)
 *                     (numpy: the last point is exactly base; W == 1 gives [start])
 *   cosine   i = it - W in [0, N): final + 0.5 (base - final) (1 + cos(pi i / N)), N = total - W */
#include "train/optim.h"

#include <math.h>

eva_status eva_cosine_schedule_init(eva_cosine_schedule *s, double base, double final, int epochs,
                                    int64_t niter_per_ep, int warmup_epochs, double start_warmup,
                                    int64_t warmup_steps) {
    memset(s, 0, sizeof *s);
    if (epochs < 1 || niter_per_ep < 1 || warmup_epochs < 0 || niter_per_ep > ((int64_t)1 << 40))
        return eva_fail(EVA_ERR_INVALID_ARG, "schedule: epochs %d, iterations per epoch %lld, warm-up epochs %d out of range",
                        epochs, (long long)niter_per_ep, warmup_epochs);
    if (!isfinite(base) || !isfinite(final) || !isfinite(start_warmup))
        return eva_fail(EVA_ERR_INVALID_ARG, "schedule: values must be finite");
    s->base = base;
    s->final = final;
    s->start_warmup = start_warmup;
    s->total_iters = (int64_t)epochs * niter_per_ep;
    s->warmup_iters = warmup_steps > 0 ? warmup_steps : (int64_t)warmup_epochs * niter_per_ep;
    if (s->warmup_iters > s->total_iters)
        return eva_fail(EVA_ERR_INVALID_ARG, "schedule: %lld warm-up iterations exceed the %lld in total",
                        (long long)s->warmup_iters, (long long)s->total_iters);
    return EVA_OK;
}

double eva_cosine_schedule_at(const eva_cosine_schedule *s, int64_t it) {
    if (s->total_iters <= 0) return s->base;
    if (it < 0) it = 0;
    if (it >= s->total_iters) it = s->total_iters - 1;
    int64_t W = s->warmup_iters;
    if (it < W) {
        if (W == 1) return s->start_warmup;
        if (it == W - 1) return s->base;
        double step = (s->base - s->start_warmup) / (double)(W - 1);
        return s->start_warmup + (double)it * step;
    }
    int64_t N = s->total_iters - W;
    double i = (double)(it - W);
    return s->final + 0.5 * (s->base - s->final) * (1.0 + cos(M_PI * i / (double)N));
}
