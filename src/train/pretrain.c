/* pretrain.c — the MIM pre-training loop (see pretrain.h). */
#include "train/pretrain.h"
#include "train/checkpoint.h"
#include "train/comm.h"
#include "train/data.h"
#include "train/init.h"
#include "train/masking.h"
#include "train/optim.h"
#include "train/target.h"
#include "train/vit_train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

eva_pretrain_config eva_pretrain_defaults(void) {
    eva_pretrain_config c;
    memset(&c, 0, sizeof c);
    c.teacher_block = -1;
    c.width = 192;
    c.depth = 12;
    c.heads = 3;
    c.mlp = 768;
    c.patch = 16;
    c.size = 224;
    c.batch = 32;
    c.epochs = 150;
    c.lr = -1;        /* derived from the batch: official 1e-3 at 4096, linear scaling */
    c.min_lr = -1;
    c.warmup_epochs = -1;
    c.weight_decay = 0.05;
    c.clip_grad = 3.0;
    c.drop_path = 0.1;
    c.mask_ratio = 105.0 / 256.0;
    c.seed = 0;
    c.threads = 0;
    c.loader_threads = 1;
    c.ckpt_every = 0;
    c.keep = 3;
    c.world = 1;
    c.rank = 0;
    return c;
}

/* Shape of a student parameter, by its official name. */
int eva_vit_train_param_shape(const eva_vit_train_config *c, const char *name, int64_t shape[4]) {
    int64_t D = c->width, F = c->mlp, P = c->patch, G = c->img_size / c->patch;
    const char *dot = strrchr(name, '.');
    if (!strcmp(name, "cls_token") || !strcmp(name, "mask_token")) { shape[0] = 1; shape[1] = 1; shape[2] = D; return 3; }
    if (!strcmp(name, "pos_embed")) { shape[0] = 1; shape[1] = G * G + 1; shape[2] = D; return 3; }
    if (!strcmp(name, "patch_embed.proj.weight")) { shape[0] = D; shape[1] = c->in_chans; shape[2] = P; shape[3] = P; return 4; }
    if (strstr(name, "qkv.weight")) { shape[0] = 3 * D; shape[1] = D; return 2; }
    if (strstr(name, "proj.weight") && strstr(name, "attn")) { shape[0] = D; shape[1] = D; return 2; }
    if (strstr(name, "fc1.weight")) { shape[0] = F; shape[1] = D; return 2; }
    if (strstr(name, "fc1.bias")) { shape[0] = F; return 1; }
    if (strstr(name, "fc2.weight")) { shape[0] = D; shape[1] = F; return 2; }
    if (!strcmp(name, "lm_head.weight")) { shape[0] = c->lm_dim; shape[1] = D; return 2; }
    if (!strcmp(name, "lm_head.bias")) { shape[0] = c->lm_dim; return 1; }
    (void)dot;
    shape[0] = D;
    return 1;
}

static void add_config_meta(eva_ckpt_meta *m, const eva_pretrain_config *c, const eva_vit_train_config *vc, double lr,
                            double min_lr, double warmup, int mask_count, int min_block) {
    eva_meta_set(m, "cfg.data", "%s", c->data);
    if (c->teacher) eva_meta_set(m, "cfg.teacher", "%s", c->teacher);
    if (c->teacher_cache) eva_meta_set(m, "cfg.teacher_cache", "%s", c->teacher_cache);
    eva_meta_set(m, "cfg.teacher_block", "%d", c->teacher_block);
    eva_meta_set(m, "cfg.width", "%d", vc->width);
    eva_meta_set(m, "cfg.depth", "%d", vc->depth);
    eva_meta_set(m, "cfg.heads", "%d", vc->heads);
    eva_meta_set(m, "cfg.mlp", "%d", vc->mlp);
    eva_meta_set(m, "cfg.patch", "%d", vc->patch);
    eva_meta_set(m, "cfg.size", "%d", vc->img_size);
    eva_meta_set(m, "cfg.batch", "%d", c->batch);
    eva_meta_set(m, "cfg.epochs", "%d", c->epochs);
    eva_meta_set(m, "cfg.steps", "%lld", (long long)c->steps);
    eva_meta_set(m, "cfg.lr", "%.17g", lr);
    eva_meta_set(m, "cfg.min_lr", "%.17g", min_lr);
    eva_meta_set(m, "cfg.warmup_epochs", "%.17g", warmup);
    eva_meta_set(m, "cfg.weight_decay", "%.17g", c->weight_decay);
    eva_meta_set(m, "cfg.clip_grad", "%.17g", c->clip_grad);
    eva_meta_set(m, "cfg.drop_path", "%.17g", c->drop_path);
    eva_meta_set(m, "cfg.precision", "%s", c->bf16 ? "bf16" : "fp32");
    eva_meta_set(m, "cfg.mask_count", "%d", mask_count);
    eva_meta_set(m, "cfg.min_block", "%d", min_block);
    eva_meta_set(m, "cfg.seed", "%llu", (unsigned long long)c->seed);
    eva_meta_set(m, "cfg.world", "%d", c->world);
    /* a resume on another number of ranks keeps the global batch (and so the schedule) */
    eva_meta_set(m, "cfg.global_batch", "%lld", (long long)c->batch * c->world);
}

/* On resume the run's own configuration wins over the flags (only steps/threads may change). */
static void config_from_meta(eva_pretrain_config *c, const eva_ckpt_meta *m) {
#define GI(field, key) c->field = (int)eva_meta_get_i64(m, key, c->field)
#define GD(field, key) c->field = eva_meta_get_f64(m, key, c->field)
    GI(width, "cfg.width"); GI(depth, "cfg.depth"); GI(heads, "cfg.heads"); GI(mlp, "cfg.mlp");
    GI(patch, "cfg.patch"); GI(size, "cfg.size"); GI(batch, "cfg.batch"); GI(epochs, "cfg.epochs");
    GI(teacher_block, "cfg.teacher_block"); GI(mask_count, "cfg.mask_count"); GI(min_block, "cfg.min_block");
    GD(lr, "cfg.lr"); GD(min_lr, "cfg.min_lr"); GD(warmup_epochs, "cfg.warmup_epochs");
    GD(weight_decay, "cfg.weight_decay"); GD(clip_grad, "cfg.clip_grad"); GD(drop_path, "cfg.drop_path");
#undef GI
#undef GD
    c->seed = (uint64_t)eva_meta_get_i64(m, "cfg.seed", (int64_t)c->seed);
    c->steps = eva_meta_get_i64(m, "cfg.steps", c->steps);
    const char *prec = eva_meta_get(m, "cfg.precision");
    if (prec) c->bf16 = !strcmp(prec, "bf16");
}

/* ---- ZeRO-1: this rank's AdamW state covers [begin, end) of the flat parameter block; the
 * optimizer sees one eva_param_ref per tensor piece in that range (name and ndim of the whole
 * tensor, so the weight-decay and layer groups are those of the tensor). */
typedef struct zero_shard {
    eva_param_ref *refs;
    int *tensor;          /* refs[j] is a piece of m->params[tensor[j]] ... */
    int64_t *offset;      /* ... starting at this element */
    int n;
    int64_t begin, end;
} zero_shard;

static void zero_free(zero_shard *z) {
    free(z->refs);
    free(z->tensor);
    free(z->offset);
    memset(z, 0, sizeof *z);
}

static eva_status zero_build(const eva_vit_train *m, int rank, int world, zero_shard *z) {
    eva_comm_shard_range(m->total, rank, world, &z->begin, &z->end);
    int n = m->n_params > 0 ? m->n_params : 1;
    z->refs = calloc((size_t)n, sizeof *z->refs);
    z->tensor = calloc((size_t)n, sizeof *z->tensor);
    z->offset = calloc((size_t)n, sizeof *z->offset);
    if (!z->refs || !z->tensor || !z->offset) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    int64_t pos = 0;
    for (int i = 0; i < m->n_params; i++) {
        const eva_param_ref *p = &m->params[i];
        if (p->param != m->param_mem + pos || p->grad != m->grad_mem + pos)
            return eva_fail(EVA_ERR_INVALID_ARG, "ZeRO-1 needs the parameters in one contiguous block (%s is not)", p->name);
        int64_t lo = EVA_MAX(z->begin, pos), hi = EVA_MIN(z->end, pos + p->numel);
        if (lo < hi) {
            z->refs[z->n] = (eva_param_ref){p->name, p->param + (lo - pos), p->grad + (lo - pos), hi - lo, p->ndim};
            z->tensor[z->n] = i;
            z->offset[z->n] = lo - pos;
            z->n++;
        }
        pos += p->numel;
    }
    return EVA_OK;
}

/* The shard's moments from a full optimizer (after loading a checkpoint). */
static void zero_from_full(const zero_shard *z, eva_adamw *shard, eva_adamw *full) {
    for (int j = 0; j < z->n; j++) {
        float *sm, *sv, *fm, *fv;
        eva_adamw_state(shard, j, &sm, &sv);
        eva_adamw_state(full, z->tensor[j], &fm, &fv);
        memcpy(sm, fm + z->offset[j], sizeof(float) * (size_t)z->refs[j].numel);
        memcpy(sv, fv + z->offset[j], sizeof(float) * (size_t)z->refs[j].numel);
    }
    eva_adamw_set_steps(shard, eva_adamw_steps(full));
}

/* Collective: rank 0 gets a full optimizer holding every rank's moments (for a checkpoint that
 * loads on any number of ranks); *full stays NULL elsewhere. Transient memory on rank 0: the
 * full m and v plus one flat block. */
static eva_status zero_gather_full(const zero_shard *z, eva_adamw *shard, const eva_vit_train *m, const eva_adamw_config *ac,
                                   bool root, eva_adamw **full) {
    *full = NULL;
    eva_status st = EVA_OK;
    float *flat = NULL, *mine = malloc(sizeof(float) * (size_t)EVA_MAX(1, z->end - z->begin));
    if (!mine) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    if (root) {
        flat = eva_aligned_alloc(sizeof(float) * (size_t)m->total);
        if (!flat) st = eva_fail(EVA_ERR_NOMEM, "ZeRO-1: out of memory gathering the optimizer state");
        if (st == EVA_OK) st = eva_adamw_create(m->params, m->n_params, ac, full);
    }
    for (int which = 0; which < 2 && st == EVA_OK; which++) {
        int64_t k = 0;
        for (int j = 0; j < z->n; j++) {
            float *sm, *sv;
            eva_adamw_state(shard, j, &sm, &sv);
            memcpy(mine + k, which ? sv : sm, sizeof(float) * (size_t)z->refs[j].numel);
            k += z->refs[j].numel;
        }
        st = eva_comm_gather_shards(mine, flat, m->total);
        if (st == EVA_OK && root)
            for (int i = 0; i < m->n_params; i++) {
                float *fm, *fv;
                eva_adamw_state(*full, i, &fm, &fv);
                memcpy(which ? fv : fm, flat + (m->params[i].param - m->param_mem), sizeof(float) * (size_t)m->params[i].numel);
            }
    }
    if (st == EVA_OK && root) eva_adamw_set_steps(*full, eva_adamw_steps(shard));
    if (st != EVA_OK) {
        eva_adamw_free(*full);
        *full = NULL;
    }
    eva_aligned_free(flat);
    free(mine);
    return st;
}

eva_status eva_pretrain_run(const eva_pretrain_config *cfg_in, eva_train_progress_fn fn, void *user) {
    eva_pretrain_config c = *cfg_in;
    eva_status st = EVA_OK;
    eva_dataset *ds = NULL;
    eva_loader *loader = NULL;
    eva_target *teacher = NULL;
    eva_vit_train *m = NULL;
    eva_adamw *opt = NULL;
    float *images = NULL, *targets = NULL;
    uint8_t *masks = NULL;
    int64_t *sample_ids = NULL;
    int64_t (*shapes)[4] = NULL;
    eva_ckpt_meta meta = {0};
    char msg[1024];
    bool root = c.rank == 0;
    bool zero = c.zero1 && c.world > 1;
    zero_shard zs = {0};
    eva_comm_set_deterministic(c.deterministic);
    /* the default reduction runs overlapped with the backward (comm.h); --deterministic and
     * ZeRO-1 keep their blocking paths */
    bool overlap = c.world > 1 && !zero && !c.deterministic;
    if (c.grad_bf16 && c.world > 1 && !overlap)
        return eva_fail(EVA_ERR_INVALID_ARG, "--grad-compress bf16 works with the default reduction only (not --deterministic, --zero1)");
    eva_comm_set_compress(c.grad_bf16 ? EVA_COMM_BF16 : EVA_COMM_FP32);

    if (!c.out_dir) return eva_fail(EVA_ERR_INVALID_ARG, "pretrain needs a run folder");
    if (mkdir(c.out_dir, 0755) != 0 && errno != EEXIST)
        return eva_fail(EVA_ERR_IO, "%s: cannot create the run folder: %s", c.out_dir, strerror(errno));

    /* resume: the run's configuration comes from its newest checkpoint's metadata */
    eva_ckpt_meta resume_meta = {0};
    char resume_path[4096] = "";
    if (c.resume) {
        /* a weights-free peek: load the metadata of the newest readable checkpoint */
        eva_param_ref none[1];
        int skipped = 0;
        st = eva_ckpt_load_latest(c.out_dir, none, 0, NULL, &resume_meta, resume_path, sizeof resume_path, &skipped);
        if (st != EVA_OK) return st;
        int64_t keep_steps = c.steps;
        config_from_meta(&c, &resume_meta);
        if (!c.data) c.data = eva_meta_get(&resume_meta, "cfg.data");
        if (!c.teacher && !c.teacher_cache) {   /* the run's own teacher source, cached or online */
            c.teacher_cache = eva_meta_get(&resume_meta, "cfg.teacher_cache");
            if (!c.teacher_cache) c.teacher = eva_meta_get(&resume_meta, "cfg.teacher");
        }
        if (keep_steps > 0) c.steps = keep_steps;
        int64_t gb = eva_meta_get_i64(&resume_meta, "cfg.global_batch", 0);
        if (gb > 0) {
            if (gb % c.world != 0)
                return eva_fail(EVA_ERR_INVALID_ARG, "%s: the run's global batch %lld does not split over %d ranks", resume_path,
                                (long long)gb, c.world);
            c.batch = (int)(gb / c.world);
        }
    }
    if (!c.data || (!c.teacher == !c.teacher_cache))
        return eva_fail(EVA_ERR_INVALID_ARG, "pretrain needs --data and one of --teacher, --teacher-cache");
    const char *teacher_name = c.teacher_cache ? c.teacher_cache : c.teacher;
    if (c.size % c.patch != 0) return eva_fail(EVA_ERR_INVALID_ARG, "--size %d is not a multiple of --patch %d", c.size, c.patch);
    if (c.width % c.heads != 0) return eva_fail(EVA_ERR_INVALID_ARG, "--width %d is not a multiple of --heads %d", c.width, c.heads);
    if (c.batch < 1) return eva_fail(EVA_ERR_INVALID_ARG, "--batch must be at least 1");
    int G = c.size / c.patch, Np = G * G;

    if ((st = eva_dataset_open(c.data, &ds)) != EVA_OK) goto done;
    if ((st = c.teacher_cache ? eva_target_open_cache(c.teacher_cache, &teacher)
                              : eva_target_open(c.teacher, c.size, c.teacher_block, c.threads, &teacher)) != EVA_OK)
        goto done;
    if (eva_target_rows(teacher) != Np) {
        st = eva_fail(EVA_ERR_SHAPE, "teacher %s gives %d patch features at %d px, the student (patch %d) has %d: the patch grids "
                      "must match (choose --patch or a teacher with the same grid)", teacher_name, eva_target_rows(teacher),
                      c.size, c.patch, Np);
        goto done;
    }
    int Dt = eva_target_dim(teacher);
    int global_batch = c.batch * c.world;
    double lr = c.lr >= 0 ? c.lr : 1e-3 * global_batch / 4096.0;
    double min_lr = c.min_lr >= 0 ? c.min_lr : 1e-5 * global_batch / 4096.0;
    double warmup = c.warmup_epochs >= 0 ? c.warmup_epochs : (c.epochs >= 75 ? 2 : c.epochs / 75.0 * 2);
    int mask_count = c.mask_count > 0 ? c.mask_count : (int)lround(c.mask_ratio * Np);
    int min_block = c.min_block > 0 ? c.min_block : (int)fmax(4, lround(16.0 * Np / 256.0));
    if (min_block > mask_count) min_block = mask_count;
    eva_mask_config mc = {.height = G, .width = G, .num_masking_patches = mask_count, .min_num_patches = min_block,
                          .max_num_patches = 0, .min_aspect = 0.3, .max_aspect = 0};
    if ((st = eva_mask_config_resolve(&mc)) != EVA_OK) goto done;

    eva_vit_train_config vc = {.img_size = c.size, .patch = c.patch, .in_chans = 3, .width = c.width, .depth = c.depth,
                               .heads = c.heads, .mlp = c.mlp, .lm_dim = Dt, .ln_eps = 1e-6f, .drop_path = c.drop_path,
                               .seed = c.seed ^ ((uint64_t)c.rank * 0x9e3779b97f4a7c15ull)};   /* drop path: own draws per rank */
    if ((st = eva_vit_train_create(&vc, c.threads, &m)) != EVA_OK) goto done;
    m->checkpoint_activations = c.checkpoint_activations;
    m->bf16 = c.bf16;
    eva_vit_train_memory_summary(m, c.batch, "student", msg, sizeof msg);
    if (fn && root) fn(&(eva_train_progress){.event = "memory", .message = msg}, user);
    eva_init_config ic = eva_init_config_pretrain();
    if ((st = eva_init_vit_params(m->params, m->n_params, &ic, c.seed)) != EVA_OK) goto done;
    eva_adamw_config ac = eva_adamw_config_pretrain(c.depth);
    ac.weight_decay = c.weight_decay;
    if (zero) {
        if ((st = zero_build(m, c.rank, c.world, &zs)) != EVA_OK) goto done;
        if ((st = eva_adamw_create(zs.refs, zs.n, &ac, &opt)) != EVA_OK) goto done;
        snprintf(msg, sizeof msg, "ZeRO-1: AdamW state %.2f MB per rank (%.2f MB unsharded), parameters [%lld, %lld) of %lld on rank 0",
                 8.0 * (double)(zs.end - zs.begin) / 1048576.0, 8.0 * (double)m->total / 1048576.0, (long long)zs.begin,
                 (long long)zs.end, (long long)m->total);
        if (fn) fn(&(eva_train_progress){.event = "zero1", .message = msg}, user);
    } else if ((st = eva_adamw_create(m->params, m->n_params, &ac, &opt)) != EVA_OK)
        goto done;

    eva_loader_params lp = {.batch = c.batch, .threads = c.loader_threads, .prefetch = 2, .seed = c.seed, .shuffle = true,
                            .drop_last = true, .rank = c.rank, .world = c.world, .aug = eva_aug_defaults(EVA_AUG_MIM, c.size)};
    if ((st = eva_loader_create(ds, &lp, &loader)) != EVA_OK) goto done;
    int64_t per_epoch = eva_loader_batches_per_epoch(loader);
    int64_t total = c.steps > 0 ? c.steps : per_epoch * c.epochs;
    if ((st = eva_target_check_run(teacher, ds, c.size, c.batch, c.seed, c.world, total)) != EVA_OK) goto done;
    eva_cosine_schedule sched;
    /* with --steps the warm-up + cosine schedule spans exactly those steps; else the epochs */
    int64_t warmup_steps = (int64_t)llround(warmup * per_epoch);
    if (c.steps > 0 && warmup_steps >= total) warmup_steps = total / 10;
    if ((st = c.steps > 0 ? eva_cosine_schedule_init(&sched, lr, min_lr, 1, total, 0, 0.0, warmup_steps)
                          : eva_cosine_schedule_init(&sched, lr, min_lr, c.epochs, per_epoch, (int)ceil(warmup), 0.0,
                                                     warmup_steps)) != EVA_OK)
        goto done;

    int64_t step = 0;
    if (c.resume) {
        int skipped = 0;
        if (zero) {   /* checkpoints hold the full state: load it, keep this rank's shard */
            eva_adamw *full = NULL;
            st = eva_adamw_create(m->params, m->n_params, &ac, &full);
            if (st == EVA_OK)
                st = eva_ckpt_load_latest(c.out_dir, m->params, m->n_params, full, &meta, resume_path, sizeof resume_path, &skipped);
            if (st == EVA_OK) zero_from_full(&zs, opt, full);
            eva_adamw_free(full);
        } else
            st = eva_ckpt_load_latest(c.out_dir, m->params, m->n_params, opt, &meta, resume_path, sizeof resume_path, &skipped);
        if (st != EVA_OK) goto done;
        step = eva_meta_get_i64(&meta, "ckpt.step", 0);
        m->step = (uint64_t)eva_meta_get_i64(&meta, "train.forward_count", (int64_t)step);
        if (step >= total) {
            st = eva_fail(EVA_ERR_INVALID_ARG, "%s is already at step %lld of %lld (raise --steps to continue)", resume_path,
                          (long long)step, (long long)total);
            goto done;
        }
        if ((st = eva_loader_seek(loader, step / per_epoch, step % per_epoch)) != EVA_OK) goto done;
        if (root) eva_metrics_truncate(c.out_dir, step);
        snprintf(msg, sizeof msg, "resumed from %s at step %lld%s", resume_path, (long long)step,
                 skipped ? " (newer damaged checkpoints skipped)" : "");
        if (fn) fn(&(eva_train_progress){.step = step, .total_steps = total, .event = "resumed", .message = msg}, user);
    }
    /* the parameters are identical on every rank from here on (same init or the same checkpoint);
     * rank 0's are broadcast anyway, so a rank that read another file cannot drift silently */
    if ((st = eva_comm_broadcast_params(m->params, m->n_params)) != EVA_OK) goto done;
    meta.n = 0;
    add_config_meta(&meta, &c, &vc, lr, min_lr, warmup, mask_count, min_block);

    size_t img_n = (size_t)c.batch * 3 * c.size * c.size;
    images = eva_aligned_alloc(sizeof(float) * img_n);
    targets = eva_aligned_alloc(sizeof(float) * (size_t)c.batch * Np * Dt);
    masks = malloc((size_t)c.batch * Np);
    sample_ids = malloc(sizeof(int64_t) * (size_t)c.batch);
    shapes = calloc((size_t)m->n_params, sizeof *shapes);
    if (!images || !targets || !masks || !shapes || !sample_ids) { st = eva_fail(EVA_ERR_NOMEM, "out of memory"); goto done; }
    for (int i = 0; i < m->n_params; i++) eva_vit_train_param_shape(&vc, m->params[i].name, shapes[i]);

    double t_start = eva_now_seconds(), t_last = t_start;
    int64_t first_step = step;
    while (step < total) {
        int n;
        int64_t epoch;
        if ((st = eva_loader_next(loader, images, NULL, sample_ids, &n, &epoch)) != EVA_OK) goto done;
        for (int b = 0; b < n; b++) {
            /* keyed by (step, sample): the same masks whatever the number of ranks */
            eva_rng r = eva_rng_make(c.seed ^ 0x6d61736bull, ((uint64_t)step << 32) + (uint64_t)sample_ids[b]);
            eva_mask_generate(&mc, &r, masks + (size_t)b * Np);
        }
        if ((st = eva_target_features_at(teacher, step, sample_ids, images, n, targets)) != EVA_OK) goto done;
        int M = 0;
        double loss = 0;
        if (overlap) {   /* the weight (masked tokens) is known before the forward */
            int64_t mk = 0;
            for (size_t i = 0; i < (size_t)n * Np; i++) mk += masks[i] != 0;
            if ((st = eva_comm_overlap_begin(m->grad_mem, m->total, (double)mk, m->params, m->n_params)) != EVA_OK) goto done;
            if (!c.no_overlap) m->grad_ready = eva_comm_grad_ready;
        }
        st = eva_vit_train_mim_step(m, images, n, masks, targets, NULL, &M, &loss);
        m->grad_ready = NULL;
        if (st != EVA_OK) goto done;
        double weight = M, gnorm;
        if (zero) {
            /* ZeRO-1: average only this rank's shard, norm from the shards' sums of squares,
             * AdamW on the shard, then every rank's updated shard to everyone */
            if ((st = eva_comm_reduce_scatter_grads(m->grad_mem, m->total, &loss, &weight)) != EVA_OK) goto done;
            double ss = 0;
            for (int j = 0; j < zs.n; j++) {
                double t = 0;
                for (int64_t i = 0; i < zs.refs[j].numel; i++) t += (double)zs.refs[j].grad[i] * zs.refs[j].grad[i];
                ss += t;
            }
            if ((st = eva_comm_allreduce_sum(&ss, 1)) != EVA_OK) goto done;
            gnorm = sqrt(ss);
        } else {
            if (overlap && c.no_overlap) eva_comm_grad_ready(NULL, 0, m->total);   /* all at once, after the backward */
            st = overlap ? eva_comm_overlap_finish(&loss, &weight) : eva_comm_allreduce_grads(m->params, m->n_params, &loss, &weight);
            if (st != EVA_OK) goto done;
            gnorm = eva_grad_global_norm(m->params, m->n_params);
        }
        double coef = eva_grad_clip_coef(gnorm, c.clip_grad);
        double lr_now = eva_cosine_schedule_at(&sched, step);
        if ((st = eva_adamw_step(opt, lr_now, c.weight_decay, coef, m->pool)) != EVA_OK) goto done;
        if (zero && (st = eva_comm_allgather_params(m->param_mem, m->total)) != EVA_OK) goto done;
        step++;
        if (c.check_every > 0 && step % c.check_every == 0 && (st = eva_comm_check_params(m->params, m->n_params, step)) != EVA_OK)
            goto done;
        double now = eva_now_seconds();
        double ips = (double)(step - first_step) * global_batch / (now - t_start);
        double eta = ips > 0 ? (double)(total - step) * global_batch / ips : 0;
        if (root) {
            snprintf(msg, sizeof msg,
                     "{\"step\": %lld, \"epoch\": %lld, \"lr\": %.6g, \"loss\": %.8f, \"grad_norm\": %.6g, \"images_per_s\": %.2f, "
                     "\"eta_s\": %.0f, \"masked\": %d, \"time_s\": %.3f, \"comm_s\": %.3f}",
                     (long long)step, (long long)epoch, lr_now, loss, gnorm, ips, eta, (int)weight, now - t_start,
                     eva_comm_seconds());
            if ((st = eva_metrics_append(c.out_dir, msg)) != EVA_OK) goto done;
        }
        if (fn) fn(&(eva_train_progress){.step = step, .total_steps = total, .epoch = epoch, .lr = lr_now, .loss = loss,
                                         .grad_norm = gnorm, .images_per_s = ips, .eta_s = eta, .elapsed_s = now - t_start},
                   user);
        (void)t_last;
        bool stop = c.stop && *c.stop;
        if (c.world > 1) {   /* the signal may reach the ranks at different steps: stop together */
            double any = stop;
            if ((st = eva_comm_allreduce_sum(&any, 1)) != EVA_OK) goto done;
            stop = any > 0;
        }
        bool want_ckpt = step == total || stop || (c.ckpt_every > 0 && step % c.ckpt_every == 0);
        if (want_ckpt) {
            eva_adamw *full = NULL;   /* ZeRO-1: the full optimizer state, on rank 0 */
            if (zero && (st = zero_gather_full(&zs, opt, m, &ac, root, &full)) != EVA_OK) goto done;
            if (root) {
                eva_meta_set(&meta, "train.forward_count", "%llu", (unsigned long long)m->step);
                eva_meta_set(&meta, "eva.heads", "%d", c.heads);
                st = eva_ckpt_save(c.out_dir, step, m->params, m->n_params, zero ? full : opt, &meta, c.keep);
            }
            eva_adamw_free(full);
            if (st != EVA_OK) goto done;
            snprintf(msg, sizeof msg, "checkpoint at step %lld", (long long)step);
            if (fn) fn(&(eva_train_progress){.step = step, .total_steps = total, .event = "checkpoint", .message = msg}, user);
        }
        if (stop) {
            st = eva_fail(EVA_ERR_CANCELLED, "stopped at step %lld; a checkpoint was written (resume with --resume)", (long long)step);
            goto done;
        }
    }
    if (eva_loader_bad_count(loader) > 0) {
        snprintf(msg, sizeof msg, "%lld unreadable image(s) were skipped (replaced by the next readable one)",
                 (long long)eva_loader_bad_count(loader));
        if (fn) fn(&(eva_train_progress){.step = step, .total_steps = total, .event = "warning", .message = msg}, user);
    }
    if (c.world > 1 && step > first_step) {
        double wall = eva_now_seconds() - t_start;
        const char *mode = c.deterministic ? "deterministic"
                           : !overlap      ? "MPI all-reduce"
                           : c.no_overlap  ? (c.grad_bf16 ? "MPI all-reduce after the backward, bf16" : "MPI all-reduce after the backward")
                                           : (c.grad_bf16 ? "MPI all-reduce overlapped with the backward, bf16"
                                                          : "MPI all-reduce overlapped with the backward");
        snprintf(msg, sizeof msg,
                 "%d ranks (%s%s): communication %.3f s of %.3f s on rank 0 (%.1f%%; waiting for the slowest rank %.3f s, "
                 "transfers %.3f s = %.1f%%; in flight during the backward %.3f s), %.2f images/s",
                 c.world, mode, zero ? ", ZeRO-1" : "", eva_comm_seconds(), wall,
                 100.0 * eva_comm_seconds() / wall, eva_comm_wait_seconds(), eva_comm_seconds() - eva_comm_wait_seconds(),
                 100.0 * (eva_comm_seconds() - eva_comm_wait_seconds()) / wall, eva_comm_overlap_seconds(),
                 (double)(step - first_step) * global_batch / wall);
        if (fn) fn(&(eva_train_progress){.step = step, .total_steps = total, .event = "comm", .message = msg}, user);
    }
    if (root) {
        /* the result: a plain EVA MIM checkpoint (official names) */
        eva_ckpt_meta mm = {0};
        eva_meta_set(&mm, "eva.arch", "custom");
        eva_meta_set(&mm, "eva.heads", "%d", c.heads);
        eva_meta_set(&mm, "eva.pooling", "mim");
        eva_meta_set(&mm, "eva.source", "eva pretrain (%s, teacher %s, %lld steps)", c.data, teacher_name, (long long)step);
        for (int i = 0; i < meta.n; i++) eva_meta_set(&mm, meta.items[i].key, "%s", meta.items[i].value);
        char path[4096];
        snprintf(path, sizeof path, "%s/model.safetensors", c.out_dir);
        st = eva_save_params(path, m->params, (const int64_t(*)[4])shapes, m->n_params, &mm);
    }
done:
    zero_free(&zs);
    free(shapes);
    eva_aligned_free(images);
    eva_aligned_free(targets);
    free(masks);
    free(sample_ids);
    eva_loader_free(loader);
    eva_adamw_free(opt);
    eva_vit_train_free(m);
    eva_target_free(teacher);
    eva_dataset_free(ds);
    return st;
}
