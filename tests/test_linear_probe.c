/* test_linear_probe.c — the pieces of `eva finetune --linear-probe` (src/train/linear_probe.c):
 * BatchNorm statistics, the BN -> Linear fold, and the LARS / SGD updates, against values
 * worked out by hand. The end-to-end run is tests/cli_linear_probe.sh. */
#include "test_util.h"
#include "train/linear_probe.h"

static void test_bn_train(void) {
    /* x [B=4, D=2]: column 0 = 1 2 3 4 (mean 2.5, biased var 1.25, unbiased 5/3), column 1 = 7 7 7 7 */
    const float x[8] = {1, 7, 2, 7, 3, 7, 4, 7};
    float rm[2] = {0, 0}, rv[2] = {1, 1}, xn[8];
    eva_bn_train(x, 4, 2, 1e-6, 0.1, rm, rv, xn);
    for (int b = 0; b < 4; b++) {
        double want = (x[2 * b] - 2.5) / sqrt(1.25 + 1e-6);
        CHECK(fabs(xn[2 * b] - want) < 1e-6, "xn[%d] %g vs %g", b, xn[2 * b], want);
        CHECK(xn[2 * b + 1] == 0.0f, "a constant column normalises to 0, got %g", xn[2 * b + 1]);
    }
    CHECK(fabs(rm[0] - 0.25) < 1e-7 && fabs(rm[1] - 0.7) < 1e-6, "running mean %g %g", rm[0], rm[1]);
    CHECK(fabs(rv[0] - (0.9 + 0.1 * 5.0 / 3.0)) < 1e-6 && fabs(rv[1] - 0.9) < 1e-7, "running var (unbiased) %g %g", rv[0], rv[1]);
}

static void test_fold(void) {
    /* eval-mode BN then Linear == the folded Linear, on random values */
    enum { C = 3, D = 5 };
    float W[C * D], b[C], mean[D], var[D], Wf[C * D], bf[C];
    eva_rng r = eva_rng_make(11, 0);
    for (int i = 0; i < C * D; i++) W[i] = (float)eva_rng_normal(&r);
    for (int c = 0; c < C; c++) b[c] = (float)eva_rng_normal(&r);
    for (int d = 0; d < D; d++) {
        mean[d] = (float)eva_rng_normal(&r);
        var[d] = (float)(0.1 + eva_rng_uniform(&r) * 3);
    }
    eva_bn_fold(W, b, mean, var, 1e-6, C, D, Wf, bf);
    double worst = 0;
    for (int t = 0; t < 10; t++) {
        float x[D];
        for (int d = 0; d < D; d++) x[d] = (float)(eva_rng_normal(&r) * 2);
        for (int c = 0; c < C; c++) {
            double ref = b[c], got = bf[c];
            for (int d = 0; d < D; d++) {
                ref += W[c * D + d] * (x[d] - mean[d]) / sqrt(var[d] + 1e-6);
                got += (double)Wf[c * D + d] * x[d];
            }
            worst = fmax(worst, fabs(ref - got));
        }
    }
    CHECK(worst < 1e-5, "folded head differs from BN + Linear by %g", worst);
}

static void test_lars(void) {
    /* matrix p = (3, 4) (norm 5), g = (0, 1) (norm 1), trust 1e-3, no wd: q = 1e-3 * 5 / 1 = 5e-3;
     * step 1: mu = q g = (0, 5e-3), p -= lr mu (lr 2) -> (3, 3.99); step 2 with the same g:
     * q = 1e-3 * |(3, 3.99)| / 1, mu = 0.9 mu + q g */
    float p[2] = {3, 4}, g[2] = {0, 1}, mu[2] = {0, 0};
    eva_lars_update(p, g, mu, 2, true, false, 2.0, 0.0, 0.9, 1e-3);
    CHECK(fabs(mu[1] - 5e-3) < 1e-9 && mu[0] == 0, "LARS mu %g %g", mu[0], mu[1]);
    CHECK(fabs(p[0] - 3) < 1e-7 && fabs(p[1] - 3.99) < 1e-6, "LARS p %g %g", p[0], p[1]);
    double q2 = 1e-3 * sqrt(9 + 3.99 * 3.99), mu2 = 0.9 * 5e-3 + q2;
    eva_lars_update(p, g, mu, 2, true, false, 2.0, 0.0, 0.9, 1e-3);
    CHECK(fabs(mu[1] - mu2) < 1e-8, "LARS step 2 mu %g vs %g", mu[1], mu2);
    /* 1-D (bias): no trust ratio, no weight decay: plain momentum SGD */
    float bb[1] = {1}, gb[1] = {0.5f}, mb[1] = {0};
    eva_lars_update(bb, gb, mb, 1, false, false, 0.1, 0.3, 0.9, 1e-3);
    CHECK(fabs(mb[0] - 0.5) < 1e-7 && fabs(bb[0] - 0.95) < 1e-7, "LARS bias %g %g", mb[0], bb[0]);
    /* weight decay enters the LARS update for matrices: g' = g + wd p before the trust ratio */
    float p3[2] = {1, 0}, g3[2] = {0, 0}, m3[2] = {0, 0};
    eva_lars_update(p3, g3, m3, 2, true, false, 1.0, 0.5, 0.9, 1e-3);
    CHECK(fabs(m3[0] - 1e-3) < 1e-9 && fabs(p3[0] - (1 - 1e-3)) < 1e-7, "LARS wd: mu %g p %g", m3[0], p3[0]);
    /* SGD: torch's momentum SGD with weight decay on every tensor */
    float ps[1] = {2}, gs[1] = {1}, ms[1] = {0};
    eva_lars_update(ps, gs, ms, 1, true, true, 0.1, 0.5, 0.9, 1e-3);
    CHECK(fabs(ms[0] - 2.0) < 1e-7 && fabs(ps[0] - 1.8) < 1e-6, "SGD mu %g p %g", ms[0], ps[0]);
    eva_lars_update(ps, gs, ms, 1, true, true, 0.1, 0.5, 0.9, 1e-3);
    CHECK(fabs(ms[0] - (0.9 * 2 + 1 + 0.5 * 1.8)) < 1e-6, "SGD step 2 mu %g", ms[0]);
}

static void test_defaults(void) {
    eva_finetune_config c = eva_finetune_defaults();
    eva_linear_probe_defaults(&c, false, false, false, false, false, false);
    CHECK(c.batch == 256 && c.epochs == 90 && c.warmup_epochs == 10 && c.weight_decay == 0 && c.min_lr == 0, "probe defaults");
    CHECK(fabs(c.lr - 1.0) < 1e-12, "lr at batch 256: %g", c.lr);
    c = eva_finetune_defaults();
    c.batch = 1024;
    c.lr = 0.5;
    eva_linear_probe_defaults(&c, true, false, false, false, true, false);
    CHECK(c.batch == 1024 && c.lr == 0.5, "given flags are kept");
    c = eva_finetune_defaults();
    c.batch = 512;
    eva_linear_probe_defaults(&c, false, false, false, false, true, false);
    CHECK(fabs(c.lr - 2.0) < 1e-12, "lr scales with the batch: %g", c.lr);
}

int main(void) {
    test_bn_train();
    test_fold();
    test_lars();
    test_defaults();
    return test_finish("test_linear_probe");
}
