/* test_masking.c — the block-wise masking generator against the statistics of the official
 * Python generator (tests/data/train/masking_stats.json, golden README-train-clip §2.3).
 *
 * Our masks come from a different RNG, so only the distribution can agree. For every statistic
 * X we draw n = 10,000 masks and form z = (X_ours - X_ref) / se with
 *   se = spread_10k * sqrt(10000 / n) * sqrt(1 + 1/50)
 * spread_10k is the measured standard deviation of X over 50 disjoint 10,000-mask batches of the
 * reference; X_ref is the mean of those 50 batches (500,000 masks), so it carries its own error
 * spread_10k / sqrt(50), which the second factor adds in quadrature. Histogram bins use the
 * binomial standard error sqrt(p (1 - p) / n) with the same factor (only bins with p >= 0.01,
 * where the normal approximation holds). Every |z| must be <= 4 (brief; README suggests 5). */
#include "test_util.h"
#include "train/masking.h"

#include <cjson/cJSON.h>

#define N_MASKS 10000
#define MAX_SIDE 16

typedef struct stats {
    int H, W, target;
    double count_mean, count_std, frac_eq;
    double row_mean[MAX_SIDE], row_std[MAX_SIDE], col_mean[MAX_SIDE], col_std[MAX_SIDE];
    double pos[MAX_SIDE][MAX_SIDE];
    double adj_mean, euler_mean, euler_std, rows_touched, cols_touched;
    double hist[MAX_SIDE * MAX_SIDE + 1];
} stats;

static void compute_stats(const uint8_t *masks, int n, int H, int W, int target, stats *s) {
    memset(s, 0, sizeof *s);
    s->H = H, s->W = W, s->target = target;
    double c1 = 0, c2 = 0, e1 = 0, e2 = 0;
    double r1[MAX_SIDE] = {0}, r2[MAX_SIDE] = {0}, k1[MAX_SIDE] = {0}, k2[MAX_SIDE] = {0};
    for (int i = 0; i < n; i++) {
        const uint8_t *m = masks + (size_t)i * H * W;
        int count = 0, adj = 0, sq = 0, rt = 0, ct = 0;
        for (int r = 0; r < H; r++) {
            int rc = 0;
            for (int c = 0; c < W; c++) {
                int v = m[r * W + c];
                rc += v;
                s->pos[r][c] += v;
                if (c + 1 < W) adj += v & m[r * W + c + 1];
                if (r + 1 < H) adj += v & m[(r + 1) * W + c];
                if (r + 1 < H && c + 1 < W) sq += v & m[r * W + c + 1] & m[(r + 1) * W + c] & m[(r + 1) * W + c + 1];
            }
            count += rc;
            r1[r] += rc, r2[r] += (double)rc * rc;
            rt += rc > 0;
        }
        for (int c = 0; c < W; c++) {
            int cc = 0;
            for (int r = 0; r < H; r++) cc += m[r * W + c];
            k1[c] += cc, k2[c] += (double)cc * cc;
            ct += cc > 0;
        }
        int euler = count - adj + sq;
        c1 += count, c2 += (double)count * count;
        e1 += euler, e2 += (double)euler * euler;
        s->frac_eq += count == target;
        s->adj_mean += adj;
        s->rows_touched += rt;
        s->cols_touched += ct;
        s->hist[count] += 1;
    }
    /* population std (numpy's default ddof = 0), as the reference computed it */
#define MEAN_STD(sum, sumsq, mean, std) \
    do { mean = (sum) / n; std = sqrt(fmax((sumsq) / n - (mean) * (mean), 0)); } while (0)
    MEAN_STD(c1, c2, s->count_mean, s->count_std);
    MEAN_STD(e1, e2, s->euler_mean, s->euler_std);
    for (int r = 0; r < H; r++) MEAN_STD(r1[r], r2[r], s->row_mean[r], s->row_std[r]);
    for (int c = 0; c < W; c++) MEAN_STD(k1[c], k2[c], s->col_mean[c], s->col_std[c]);
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) s->pos[r][c] /= n;
    for (int k = 0; k <= H * W; k++) s->hist[k] /= n;
    s->frac_eq /= n, s->adj_mean /= n, s->rows_touched /= n, s->cols_touched /= n;
}

typedef struct zacc {
    double max_abs;
    char worst[64];
    int n_entries, n_over;
    double limit;
    int verbose;
} zacc;

static double zfactor(int n) { return sqrt(10000.0 / n) * sqrt(1.0 + 1.0 / 50.0); }

static void zadd(zacc *z, const char *name, double ours, double ref, double se) {
    double v = (ours - ref) / se;
    z->n_entries++;
    if (fabs(v) > z->limit) {
        z->n_over++;
        if (z->verbose) fprintf(stderr, "  |z| > %.1f: %s ours %.6f ref %.6f se %.6f z %.2f\n", z->limit, name, ours, ref, se, v);
    }
    if (fabs(v) > z->max_abs) {
        z->max_abs = fabs(v);
        snprintf(z->worst, sizeof z->worst, "%s", name);
    }
}

static double jnum(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void zvec(zacc *z, const char *name, const double *ours, const cJSON *ref, const cJSON *spread, int len, double f) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(ref, name), *s = cJSON_GetObjectItemCaseSensitive(spread, name);
    for (int i = 0; i < len; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "%s[%d]", name, i);
        zadd(z, nm, ours[i], cJSON_GetArrayItem(r, i)->valuedouble, cJSON_GetArrayItem(s, i)->valuedouble * f);
    }
}

/* Compare stats with one config of the JSON; returns the z summary. Prints one table row per group. */
static zacc compare(const stats *s, const cJSON *cfg, int n, double limit, int verbose) {
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(cfg, "reference");
    const cJSON *spr = cJSON_GetObjectItemCaseSensitive(cfg, "spread_10k");
    double f = zfactor(n);
    zacc z = {0, "", 0, 0, limit, verbose};
    zacc part;
#define SCALAR(key, val)                                                        \
    do {                                                                        \
        part = z;                                                               \
        zadd(&z, key, val, jnum(ref, key), jnum(spr, key) * f);                 \
        if (verbose) printf("    %-22s ours %10.5f ref %10.5f z %+6.2f\n", key, val, jnum(ref, key), \
                            (val - jnum(ref, key)) / (jnum(spr, key) * f));      \
    } while (0)
    SCALAR("count_mean", s->count_mean);
    SCALAR("count_std", s->count_std);
    SCALAR("frac_count_eq_target", s->frac_eq);
    SCALAR("adjacent_pairs_mean", s->adj_mean);
    SCALAR("euler4_mean", s->euler_mean);
    SCALAR("euler4_std", s->euler_std);
    SCALAR("rows_touched_mean", s->rows_touched);
    SCALAR("cols_touched_mean", s->cols_touched);
    (void)part;
    const char *vec_names[4] = {"row_count_mean", "row_count_std", "col_count_mean", "col_count_std"};
    const double *vecs[4] = {s->row_mean, s->row_std, s->col_mean, s->col_std};
    for (int k = 0; k < 4; k++) {
        zacc before = z;
        z.max_abs = 0;
        zvec(&z, vec_names[k], vecs[k], ref, spr, k < 2 ? s->H : s->W, f);
        if (verbose) printf("    %-22s max|z| %5.2f over %d (%s)\n", vec_names[k], z.max_abs, k < 2 ? s->H : s->W, z.worst);
        if (before.max_abs > z.max_abs) {
            z.max_abs = before.max_abs;
            memcpy(z.worst, before.worst, sizeof z.worst);
        }
    }
    {
        zacc before = z;
        z.max_abs = 0;
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(ref, "position_prob");
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(spr, "position_prob");
        for (int r = 0; r < s->H; r++)
            for (int c = 0; c < s->W; c++) {
                char nm[64];
                snprintf(nm, sizeof nm, "position_prob[%d][%d]", r, c);
                zadd(&z, nm, s->pos[r][c], cJSON_GetArrayItem(cJSON_GetArrayItem(pr, r), c)->valuedouble,
                     cJSON_GetArrayItem(cJSON_GetArrayItem(ps, r), c)->valuedouble * f);
            }
        if (verbose) printf("    %-22s max|z| %5.2f over %d (%s)\n", "position_prob", z.max_abs, s->H * s->W, z.worst);
        if (before.max_abs > z.max_abs) {
            z.max_abs = before.max_abs;
            memcpy(z.worst, before.worst, sizeof z.worst);
        }
    }
    {
        zacc before = z;
        z.max_abs = 0;
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(cfg, "count_histogram");
        int bins = 0;
        for (const cJSON *b = h ? h->child : NULL; b; b = b->next) {
            int k = atoi(b->string);
            double p = b->valuedouble;
            if (p < 0.01 || k < 0 || k > s->H * s->W) continue;
            char nm[64];
            snprintf(nm, sizeof nm, "count_histogram[%d]", k);
            zadd(&z, nm, s->hist[k], p, sqrt(p * (1 - p) / n) * sqrt(1.0 + 1.0 / 50.0));
            bins++;
        }
        if (verbose) printf("    %-22s max|z| %5.2f over %d bins (%s)\n", "count_histogram", z.max_abs, bins, z.worst);
        if (before.max_abs > z.max_abs) {
            z.max_abs = before.max_abs;
            memcpy(z.worst, before.worst, sizeof z.worst);
        }
    }
    return z;
}

static cJSON *load_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = 0;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    return j;
}

static eva_mask_config config_from_json(const cJSON *cfg) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(cfg, "params");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(p, "grid");
    eva_mask_config c = {cJSON_GetArrayItem(g, 0)->valueint, cJSON_GetArrayItem(g, 1)->valueint,
                         (int)jnum(p, "num_masking_patches"), (int)jnum(p, "min_num_patches"), 0,
                         jnum(p, "min_aspect"), 0};
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(p, "max_num_patches");
    if (cJSON_IsNumber(mx)) c.max_num_patches = mx->valueint;
    const cJSON *ma = cJSON_GetObjectItemCaseSensitive(p, "max_aspect");
    if (cJSON_IsNumber(ma)) c.max_aspect = ma->valuedouble;
    return c;
}

static void test_validation(void) {
    eva_mask_config c = eva_mask_config_official();
    CHECK_OK(eva_mask_config_resolve(&c));
    CHECK(c.max_num_patches == 105 && fabs(c.max_aspect - 1 / 0.3) < 1e-15, "defaults %d %g", c.max_num_patches, c.max_aspect);
    eva_mask_config bad = eva_mask_config_official();
    bad.num_masking_patches = 257;
    CHECK(eva_mask_config_resolve(&bad) == EVA_ERR_INVALID_ARG, "count > H*W accepted");
    CHECK(strstr(eva_last_error(), "count") != NULL, "message: %s", eva_last_error());
    bad = eva_mask_config_official();
    bad.min_num_patches = 106;
    CHECK(eva_mask_config_resolve(&bad) == EVA_ERR_INVALID_ARG, "min block > count accepted");
    bad = eva_mask_config_official();
    bad.min_aspect = 0;
    CHECK(eva_mask_config_resolve(&bad) == EVA_ERR_INVALID_ARG, "aspect 0 accepted");
    bad = eva_mask_config_official();
    bad.height = 0;
    CHECK(eva_mask_config_resolve(&bad) == EVA_ERR_INVALID_ARG, "grid 0 accepted");
}

static void test_basic_properties(void) {
    /* determinism by (seed, index); count bounded by the target; count equals the ones */
    eva_mask_config c = eva_mask_config_official();
    uint8_t a[4 * 256], b[4 * 256];
    int ca[4], cb[4];
    CHECK_OK(eva_mask_generate_batch(&c, 7, 4, a, ca));
    CHECK_OK(eva_mask_generate_batch(&c, 7, 4, b, cb));
    CHECK(memcmp(a, b, sizeof a) == 0, "same seed gave different masks");
    eva_mask_config r = c;
    eva_mask_config_resolve(&r);
    eva_rng rng = eva_rng_make(7, 2);
    uint8_t one[256];
    int k = eva_mask_generate(&r, &rng, one);
    CHECK(k == ca[2] && memcmp(one, a + 512, 256) == 0, "mask 2 not reproducible from its stream");
    for (int i = 0; i < 4; i++) {
        int ones = 0;
        for (int j = 0; j < 256; j++) ones += a[i * 256 + j];
        CHECK(ones == ca[i] && ones <= 105 && ones >= 16, "mask %d: %d ones, count %d", i, ones, ca[i]);
    }
    /* a non-square grid and a tight block range run and stay within the target */
    eva_mask_config ns = {6, 20, 40, 4, 9, 0.5, 3.0};
    uint8_t m[50 * 120];
    int cn[50];
    CHECK_OK(eva_mask_generate_batch(&ns, 3, 50, m, cn));
    for (int i = 0; i < 50; i++) CHECK(cn[i] <= 40 && cn[i] > 0, "6x20 mask %d count %d", i, cn[i]);
}

int main(void) {
    double t0 = eva_now_seconds();
    test_validation();
    test_basic_properties();
    cJSON *j = load_json("data/train/masking_stats.json");
    CHECK(j != NULL, "cannot read data/train/masking_stats.json");
    if (!j) return test_finish("test_masking");
    const cJSON *configs = cJSON_GetObjectItemCaseSensitive(j, "configs");
    uint8_t *masks = malloc((size_t)N_MASKS * MAX_SIDE * MAX_SIDE);
    stats *s = malloc(sizeof *s);
    int n_cfg = cJSON_GetArraySize(configs);
    CHECK(n_cfg >= 2, "expected 2 configurations, got %d", n_cfg);
    const uint64_t seeds[2] = {20260101, 1234};
    for (int k = 0; k < n_cfg; k++) {
        const cJSON *cfg = cJSON_GetArrayItem(configs, k);
        eva_mask_config c = config_from_json(cfg);
        const char *name = cJSON_GetObjectItemCaseSensitive(cfg, "name")->valuestring;
        if (c.height > MAX_SIDE || c.width > MAX_SIDE) continue;
        for (int si = 0; si < 2; si++) {
            CHECK_OK(eva_mask_generate_batch(&c, seeds[si], N_MASKS, masks, NULL));
            compute_stats(masks, N_MASKS, c.height, c.width, c.num_masking_patches, s);
            printf("%s, %d masks, seed %llu:\n", name, N_MASKS, (unsigned long long)seeds[si]);
            zacc z = compare(s, cfg, N_MASKS, 4.0, 1);
            printf("  => %d entries, max|z| = %.2f (%s), %d over 4\n", z.n_entries, z.max_abs, z.worst, z.n_over);
            CHECK(z.n_over == 0 && z.max_abs <= 4.0, "%s seed %llu: max|z| %.2f at %s", name,
                  (unsigned long long)seeds[si], z.max_abs, z.worst);
        }
    }
    /* The test can fail: a generator with a slightly wrong parameter (the README's comment
     * value 102 instead of 105, or max aspect 3 instead of 1/0.3) must be rejected. */
    {
        const cJSON *cfg = cJSON_GetArrayItem(configs, 0);
        eva_mask_config c = config_from_json(cfg);
        c.num_masking_patches = 102;
        CHECK_OK(eva_mask_generate_batch(&c, 99, N_MASKS, masks, NULL));
        compute_stats(masks, N_MASKS, c.height, c.width, 105, s);
        zacc z = compare(s, cfg, N_MASKS, 4.0, 0);
        printf("wrong variant count=102: max|z| = %.1f (%s)\n", z.max_abs, z.worst);
        CHECK(z.max_abs > 20, "count 102 not detected (max|z| %.2f)", z.max_abs);
        c = config_from_json(cfg);
        c.min_num_patches = 12;
        CHECK_OK(eva_mask_generate_batch(&c, 99, N_MASKS, masks, NULL));
        compute_stats(masks, N_MASKS, c.height, c.width, 105, s);
        z = compare(s, cfg, N_MASKS, 4.0, 0);
        printf("wrong variant min_block=12: max|z| = %.1f (%s)\n", z.max_abs, z.worst);
        CHECK(z.max_abs > 6, "min block 12 not detected (max|z| %.2f)", z.max_abs);
    }
    cJSON_Delete(j);
    free(masks);
    free(s);
    printf("time %.2f s\n", eva_now_seconds() - t0);
    return test_finish("test_masking");
}
