/* linear_probe.c — linear probing of a frozen pre-trained EVA (see linear_probe.h): cached cls
 * features, BatchNorm (no affine) + Linear trained with LARS or SGD, BN folded into the head,
 * saved as a "cls_classifier" model. */
#include "train/linear_probe.h"
#include "io/tensor_map.h"
#include "models/vit.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/optim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

void eva_linear_probe_defaults(eva_finetune_config *c, bool lr_set, bool epochs_set, bool warmup_set, bool wd_set,
                               bool batch_set, bool min_lr_set) {
    if (!batch_set) c->batch = 256;
    if (!epochs_set) c->epochs = 90;
    if (!warmup_set) c->warmup_epochs = 10;
    if (!wd_set) c->weight_decay = 0;
    if (!min_lr_set) c->min_lr = 0;
    if (!lr_set) c->lr = EVA_PROBE_SPEC_LR * c->batch / EVA_PROBE_SPEC_BATCH;
}

/* ---------------------------------------------------------------- the pieces */

void eva_bn_train(const float *x, int B, int D, double eps, double momentum, float *run_mean, float *run_var, float *xn) {
    for (int d = 0; d < D; d++) {
        double s = 0, ss = 0;
        for (int b = 0; b < B; b++) s += x[(size_t)b * D + d];
        double mean = s / B;
        for (int b = 0; b < B; b++) {
            double t = x[(size_t)b * D + d] - mean;
            ss += t * t;
        }
        double var = ss / B, inv = 1.0 / sqrt(var + eps);
        for (int b = 0; b < B; b++) xn[(size_t)b * D + d] = (float)((x[(size_t)b * D + d] - mean) * inv);
        double unbiased = B > 1 ? ss / (B - 1) : var;
        run_mean[d] = (float)((1 - momentum) * run_mean[d] + momentum * mean);
        run_var[d] = (float)((1 - momentum) * run_var[d] + momentum * unbiased);
    }
}

void eva_bn_fold(const float *W, const float *b, const float *mean, const float *var, double eps, int C, int D,
                 float *W_out, float *b_out) {
    for (int c = 0; c < C; c++) {
        double acc = b[c];
        for (int d = 0; d < D; d++) {
            double w = W[(size_t)c * D + d] / sqrt((double)var[d] + eps);
            W_out[(size_t)c * D + d] = (float)w;
            acc -= w * mean[d];
        }
        b_out[c] = (float)acc;
    }
}

void eva_lars_update(float *p, const float *g, float *mu, int64_t n, bool matrix, bool sgd, double lr, double wd,
                     double momentum, double trust) {
    double q = 1.0;
    bool decay = sgd || matrix;   /* LARS: weight decay and the trust ratio only for ndim > 1 */
    if (!sgd && matrix) {
        double pn = 0, un = 0;
        for (int64_t i = 0; i < n; i++) {
            double u = g[i] + wd * p[i];
            pn += (double)p[i] * p[i];
            un += u * u;
        }
        pn = sqrt(pn);
        un = sqrt(un);
        if (pn > 0 && un > 0) q = trust * pn / un;
    }
    for (int64_t i = 0; i < n; i++) {
        double u = (g[i] + (decay ? wd * p[i] : 0.0)) * q;
        mu[i] = (float)(momentum * mu[i] + u);
        p[i] = (float)(p[i] - lr * mu[i]);
    }
}

/* ---------------------------------------------------------------- features */

/* cls token after the final norm of the first n images of ds (the model's evaluation transform)
 * into feats [*n_out, D], labels [*n_out]; unreadable images are skipped and counted (as the
 * loader does), an empty result is an error. */
static eva_status extract(eva_ctx *ctx, const eva_model *model, const eva_dataset *ds, int64_t n, float *feats, int *labels,
                          int64_t *n_out, const char *what, eva_train_progress_fn fn, void *user) {
    eva_preprocess_params pp;
    eva_status st = eva_model_preprocess(model, NULL, &pp);
    if (st != EVA_OK) return st;
    const int B = 64;
    int D = eva_embed_dim(model, EVA_EMBED_CLS, -1);
    size_t per = (size_t)3 * pp.size * pp.size;
    float *images = malloc(sizeof(float) * per * B);
    if (!images) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    double t0 = eva_now_seconds();
    int64_t good = 0, bad = 0;
    for (int64_t s = 0; s < n && st == EVA_OK; s += B) {
        int nb = (int)EVA_MIN((int64_t)B, n - s), k = 0;
        for (int j = 0; j < nb; j++) {
            eva_image img;
            if (eva_dataset_image(ds, s + j, &img) != EVA_OK) { bad++; continue; }
            eva_status pst = eva_preprocess_image(&img, &pp, images + per * (size_t)k, NULL);
            eva_image_free(&img);
            if (pst != EVA_OK) { bad++; continue; }
            labels[good + k++] = eva_dataset_label(ds, s + j);
        }
        if (k) st = eva_embed(ctx, images, k, EVA_EMBED_CLS, -1, feats + (size_t)good * D);
        good += k;
    }
    free(images);
    *n_out = good;
    if (st == EVA_OK && !good) st = eva_fail(EVA_ERR_FORMAT, "%s: no readable image", what);
    if (st == EVA_OK && fn) {
        char msg[256];
        double dt = eva_now_seconds() - t0;
        snprintf(msg, sizeof msg, "%s features: %lld images x %d in %.1f s (%.0f img/s)%s", what, (long long)good, D, dt,
                 dt > 0 ? good / dt : 0.0, bad ? " (unreadable ones skipped)" : "");
        fn(&(eva_train_progress){.event = "features", .message = msg}, user);
        if (bad) {
            snprintf(msg, sizeof msg, "%lld unreadable %s image(s) skipped", (long long)bad, what);
            fn(&(eva_train_progress){.event = "warning", .message = msg}, user);
        }
    }
    return st;
}

/* top-1 of the eval-mode head (BN folded into W', b') on cached features */
static double accuracy(const float *feats, const int *labels, int64_t n, int D, int C, const float *W, const float *b) {
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *x = feats + (size_t)i * D;
        int best = 0;
        double bestv = -INFINITY;
        for (int c = 0; c < C; c++) {
            double z = b[c];
            for (int d = 0; d < D; d++) z += (double)W[(size_t)c * D + d] * x[d];
            if (z > bestv) { bestv = z; best = c; }
        }
        correct += best == labels[i];
    }
    return n ? (double)correct / n : 0;
}

/* trunc_normal_(std) on [-2 std, 2 std] by rejection */
static float trunc_normal(eva_rng *r, double std) {
    for (;;) {
        double v = eva_rng_normal(r);
        if (v >= -2 && v <= 2) return (float)(v * std);
    }
}

/* ---------------------------------------------------------------- the result file */

static bool drop_name(const char *name) {
    return !strcmp(name, "mask_token") || !strncmp(name, "lm_head.", 8) || !strncmp(name, "fc_norm.", 8) ||
           !strncmp(name, "head.", 5) || !strncmp(name, "model_ema.", 10);
}

static eva_status save_probe(const char *path, const eva_model *model, const float *W, const float *b, int C, int D,
                             const eva_dataset *ds, const eva_ckpt_meta *meta, const char *source) {
    eva_tensor_writer *w;
    eva_status st = eva_tensor_writer_create(&w);
    if (st != EVA_OK) return st;
    const eva_tensor_map *map = &model->map;
    size_t plen = strlen(model->ckpt_prefix);
    int copied = 0;
    for (int i = 0; i < map->count && st == EVA_OK; i++) {
        const eva_named_tensor *t = &map->items[i];
        if (strncmp(t->name, model->ckpt_prefix, plen)) continue;
        const char *name = t->name + plen;
        if (drop_name(name)) continue;
        if (!eva_tensor_is_contiguous(&t->t)) {
            st = eva_fail(EVA_ERR_UNSUPPORTED, "%s: tensor '%s' is not contiguous", model->source, t->name);
            break;
        }
        st = eva_tensor_writer_add_view(w, name, t->t.dtype, t->t.ndim, t->t.shape, t->t.data);
        copied++;
    }
    const int64_t wshape[2] = {C, D}, bshape[1] = {C};
    if (st == EVA_OK) st = eva_tensor_writer_add(w, "head.weight", EVA_F32, 2, wshape, W);
    if (st == EVA_OK) st = eva_tensor_writer_add(w, "head.bias", EVA_F32, 1, bshape, b);
    for (int i = 0; meta && i < meta->n && st == EVA_OK; i++)
        st = eva_tensor_writer_set_metadata(w, meta->items[i].key, meta->items[i].value);
    char names[8192] = "", buf[64];
    for (int k = 0; k < eva_dataset_classes(ds); k++) {
        size_t l = strlen(names);
        snprintf(names + l, sizeof names - l, "%s%s", k ? "\n" : "", eva_dataset_class_name(ds, k));
    }
    snprintf(buf, sizeof buf, "%d", model->cfg.heads);
    if (st == EVA_OK) st = eva_tensor_writer_set_metadata(w, "eva.heads", buf);
    if (st == EVA_OK) st = eva_tensor_writer_set_metadata(w, "eva.arch", model->cfg.arch);
    if (st == EVA_OK) st = eva_tensor_writer_set_metadata(w, "eva.pooling", "cls_classifier");
    if (st == EVA_OK) st = eva_tensor_writer_set_metadata(w, "eva.class_names", names);
    if (st == EVA_OK) st = eva_tensor_writer_set_metadata(w, "eva.source", source);
    if (st == EVA_OK && copied == 0) st = eva_fail(EVA_ERR_MISSING, "%s: no trunk tensors to copy", model->source);
    if (st == EVA_OK) st = eva_tensor_writer_save(w, path);
    eva_tensor_writer_free(w);
    return st;
}

/* ---------------------------------------------------------------- the run */

eva_status eva_linear_probe_run(const eva_finetune_config *cfg, eva_train_progress_fn fn, void *user) {
    const eva_finetune_config c = *cfg;
    if (!c.out_dir) return eva_fail(EVA_ERR_INVALID_ARG, "linear probe needs a run folder (--out)");
    if (!c.data) return eva_fail(EVA_ERR_INVALID_ARG, "linear probe needs --data");
    if (!c.init) return eva_fail(EVA_ERR_INVALID_ARG, "--linear-probe needs the pre-trained model (--init MODEL)");
    if (c.batch < 1 || c.epochs < 1 || !(c.lr >= 0) || !(c.min_lr >= 0) || !(c.warmup_epochs >= 0) || !(c.weight_decay >= 0))
        return eva_fail(EVA_ERR_INVALID_ARG, "linear probe: a size, count or hyper-parameter is out of range");
    eva_dataset *ds = NULL, *val = NULL;
    eva_model *model = NULL;
    eva_ctx *ctx = NULL;
    float *feats = NULL, *vfeats = NULL, *W = NULL, *bias = NULL, *gW = NULL, *gb = NULL, *muW = NULL, *mub = NULL;
    float *rm = NULL, *rv = NULL, *xn = NULL, *Wf = NULL, *bf = NULL;
    int *labels = NULL, *vlabels = NULL;
    int64_t *perm = NULL;
    char msg[1024], path[4096];
    eva_ckpt_meta meta = {0};
    eva_status st = EVA_OK;
    if (mkdir(c.out_dir, 0755) != 0 && errno != EEXIST)
        return eva_fail(EVA_ERR_IO, "%s: cannot create the run folder: %s", c.out_dir, strerror(errno));
    if ((st = eva_dataset_open(c.data, &ds)) != EVA_OK) goto done;
    if (c.val && (st = eva_dataset_open(c.val, &val)) != EVA_OK) goto done;
    int C = eva_dataset_classes(ds);
    if (C < 2 || C > 4096) { st = eva_fail(EVA_ERR_INVALID_ARG, "%s has %d class(es): a linear probe needs 2..4096", c.data, C); goto done; }
    eva_model_params mp = eva_model_default_params();
    if ((st = eva_model_load(c.init, &mp, &model)) != EVA_OK) { eva_fail_context(st, "--init %s", c.init); goto done; }
    if (!model->cfg.has_norm) {
        st = eva_fail(EVA_ERR_INVALID_ARG, "--init %s has no final norm: the probe reads the cls token after it (give a "
                      "MIM / EVA pre-trained model, not a fine-tuned one)", c.init);
        goto done;
    }
    if ((st = eva_ctx_create(model, c.threads, &ctx)) != EVA_OK) goto done;
    int D = eva_embed_dim(model, EVA_EMBED_CLS, -1);
    int64_t N = eva_dataset_size(ds), NV = val ? eva_dataset_size(val) : 0;
    if (c.val_limit > 0 && NV > c.val_limit) NV = c.val_limit;
    feats = malloc(sizeof(float) * (size_t)N * D);
    labels = malloc(sizeof(int) * (size_t)N);
    vfeats = malloc(sizeof(float) * (size_t)(NV ? NV : 1) * D);
    vlabels = malloc(sizeof(int) * (size_t)(NV ? NV : 1));
    if (!feats || !labels || !vfeats || !vlabels) { st = eva_fail(EVA_ERR_NOMEM, "out of memory for %lld x %d features", (long long)N, D); goto done; }
    if ((st = extract(ctx, model, ds, N, feats, labels, &N, "train", fn, user)) != EVA_OK) goto done;
    if (NV && (st = extract(ctx, model, val, NV, vfeats, vlabels, &NV, "validation", fn, user)) != EVA_OK) goto done;
    eva_ctx_free(ctx);
    ctx = NULL;

    int B = (int)EVA_MIN((int64_t)c.batch, N);
    int64_t per_epoch = N / B;   /* drop_last, as MAE's probe */
    int64_t total = per_epoch * c.epochs;
    if (c.steps > 0 && c.steps < total) total = c.steps;
    eva_cosine_schedule sched;
    if ((st = eva_cosine_schedule_init(&sched, c.lr, c.min_lr, c.epochs, per_epoch, (int)ceil(c.warmup_epochs), 0.0,
                                       (int64_t)llround(c.warmup_epochs * per_epoch))) != EVA_OK)
        goto done;
    size_t nw = (size_t)C * D;
    W = calloc(nw, sizeof(float)); gW = calloc(nw, sizeof(float)); muW = calloc(nw, sizeof(float)); Wf = calloc(nw, sizeof(float));
    bias = calloc((size_t)C, sizeof(float)); gb = calloc((size_t)C, sizeof(float)); mub = calloc((size_t)C, sizeof(float));
    bf = calloc((size_t)C, sizeof(float));
    rm = calloc((size_t)D, sizeof(float)); rv = malloc(sizeof(float) * (size_t)D);
    xn = malloc(sizeof(float) * (size_t)B * D);
    perm = malloc(sizeof(int64_t) * (size_t)N);
    if (!W || !gW || !muW || !Wf || !bias || !gb || !mub || !bf || !rm || !rv || !xn || !perm) {
        st = eva_fail(EVA_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int d = 0; d < D; d++) rv[d] = 1.0f;
    eva_rng init_rng = eva_rng_make(c.seed, 0x70726f6265ull);   /* "probe" */
    for (size_t i = 0; i < nw; i++) W[i] = trunc_normal(&init_rng, 0.01);   /* MAE: head.weight std 0.01, bias 0 */
    float *batchx = malloc(sizeof(float) * (size_t)B * D);
    int *batchy = malloc(sizeof(int) * (size_t)B);
    if (!batchx || !batchy) { free(batchx); free(batchy); st = eva_fail(EVA_ERR_NOMEM, "out of memory"); goto done; }
    eva_metrics_truncate(c.out_dir, 0);
    snprintf(msg, sizeof msg, "linear probe: %lld train / %lld validation features of %d, %d classes, %s lr %.4g, batch %d, "
             "%d epochs (%lld steps)", (long long)N, (long long)NV, D, C, c.probe_sgd ? "SGD" : "LARS", c.lr, B, c.epochs,
             (long long)total);
    if (fn) fn(&(eva_train_progress){.event = "probe", .message = msg}, user);
    double t0 = eva_now_seconds(), loss_sum = 0;
    int64_t loss_n = 0, step = 0, epoch = 0;
    double last_val = -1;
    while (step < total) {
        if (step % per_epoch == 0) {   /* a new epoch: its order from (seed, epoch) */
            epoch = step / per_epoch;
            eva_rng r = eva_rng_make(c.seed, 0x5eed00000000ull + (uint64_t)epoch);
            for (int64_t i = 0; i < N; i++) perm[i] = i;
            for (int64_t i = N - 1; i > 0; i--) {
                int64_t j = eva_rng_below(&r, i + 1), t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
        }
        int64_t first = (step % per_epoch) * B;
        for (int k = 0; k < B; k++) {
            memcpy(batchx + (size_t)k * D, feats + (size_t)perm[first + k] * D, sizeof(float) * D);
            batchy[k] = labels[perm[first + k]];
        }
        /* forward: BN (batch statistics) -> Linear -> softmax cross-entropy */
        eva_bn_train(batchx, B, D, EVA_PROBE_BN_EPS, 0.1, rm, rv, xn);
        memset(gW, 0, sizeof(float) * nw);
        memset(gb, 0, sizeof(float) * (size_t)C);
        double loss = 0;
        for (int k = 0; k < B; k++) {
            const float *x = xn + (size_t)k * D;
            double z[4096], mx = -INFINITY, se = 0;   /* C <= 4096 (checked above) */
            int Cz = C;
            for (int cc = 0; cc < Cz; cc++) {
                double v = bias[cc];
                for (int d = 0; d < D; d++) v += (double)W[(size_t)cc * D + d] * x[d];
                z[cc] = v;
                if (v > mx) mx = v;
            }
            for (int cc = 0; cc < Cz; cc++) se += exp(z[cc] - mx);
            loss += -(z[batchy[k]] - mx - log(se));
            /* dL/dz = (softmax - onehot) / B */
            for (int cc = 0; cc < Cz; cc++) {
                double g = (exp(z[cc] - mx) / se - (cc == batchy[k])) / B;
                gb[cc] += (float)g;
                for (int d = 0; d < D; d++) gW[(size_t)cc * D + d] += (float)(g * x[d]);
            }
        }
        loss /= B;
        double lr = eva_cosine_schedule_at(&sched, step);
        eva_lars_update(W, gW, muW, (int64_t)nw, true, c.probe_sgd, lr, c.weight_decay, 0.9, 1e-3);
        eva_lars_update(bias, gb, mub, C, false, c.probe_sgd, lr, c.weight_decay, 0.9, 1e-3);
        loss_sum += loss;
        loss_n++;
        step++;
        double now = eva_now_seconds();
        if (fn && (step % per_epoch == 0 || step == total)) fn(&(eva_train_progress){.step = step, .total_steps = total, .epoch = epoch, .lr = lr, .loss = loss,
                                         .images_per_s = (double)step * B / (now - t0 + 1e-9),
                                         .eta_s = (now - t0) / step * (double)(total - step), .elapsed_s = now - t0},
                   user);
        if (step % per_epoch == 0 || step == total) {
            eva_bn_fold(W, bias, rm, rv, EVA_PROBE_BN_EPS, C, D, Wf, bf);
            double train_top1 = accuracy(feats, labels, EVA_MIN(N, (int64_t)10000), D, C, Wf, bf);
            last_val = NV ? accuracy(vfeats, vlabels, NV, D, C, Wf, bf) : -1;
            int len = snprintf(msg, sizeof msg, "{\"step\": %lld, \"epoch\": %lld, \"lr\": %.6g, \"loss\": %.8f, "
                               "\"train_top1\": %.6f, \"time_s\": %.3f", (long long)step, (long long)epoch, lr,
                               loss_sum / loss_n, train_top1, now - t0);
            if (last_val >= 0 && len > 0 && (size_t)len < sizeof msg)
                len += snprintf(msg + len, sizeof msg - (size_t)len, ", \"val_top1\": %.6f", last_val);
            if (len > 0 && (size_t)len < sizeof msg - 2) snprintf(msg + len, sizeof msg - (size_t)len, "}");
            loss_sum = 0;
            loss_n = 0;
            if ((st = eva_metrics_append(c.out_dir, msg)) != EVA_OK) break;
            if (last_val >= 0 && fn && ((epoch + 1) % 10 == 0 || step == total)) {
                snprintf(msg, sizeof msg, "epoch %lld: validation top-1 %.2f%% (train %.2f%%)", (long long)epoch,
                         100 * last_val, 100 * train_top1);
                fn(&(eva_train_progress){.step = step, .total_steps = total, .event = "eval", .message = msg}, user);
            }
        }
        if (c.stop && *c.stop) { st = eva_fail(EVA_ERR_CANCELLED, "stopped at step %lld (a probe has no checkpoints: rerun it)", (long long)step); break; }
    }
    free(batchx);
    free(batchy);
    if (st != EVA_OK) goto done;
    eva_bn_fold(W, bias, rm, rv, EVA_PROBE_BN_EPS, C, D, Wf, bf);
    eva_meta_set(&meta, "cfg.mode", "linear_probe");
    eva_meta_set(&meta, "cfg.data", "%s", c.data);
    if (c.val) eva_meta_set(&meta, "cfg.val", "%s", c.val);
    eva_meta_set(&meta, "cfg.init", "%s", c.init);
    eva_meta_set(&meta, "cfg.optimizer", "%s", c.probe_sgd ? "sgd" : "lars");
    eva_meta_set(&meta, "cfg.batch", "%d", B);
    eva_meta_set(&meta, "cfg.epochs", "%d", c.epochs);
    eva_meta_set(&meta, "cfg.steps", "%lld", (long long)total);
    eva_meta_set(&meta, "cfg.lr", "%.17g", c.lr);
    eva_meta_set(&meta, "cfg.min_lr", "%.17g", c.min_lr);
    eva_meta_set(&meta, "cfg.warmup_epochs", "%.17g", c.warmup_epochs);
    eva_meta_set(&meta, "cfg.weight_decay", "%.17g", c.weight_decay);
    eva_meta_set(&meta, "cfg.seed", "%llu", (unsigned long long)c.seed);
    eva_meta_set(&meta, "cfg.features", "cls after the final norm, evaluation transform (no augmentation)");
    if (last_val >= 0) eva_meta_set(&meta, "probe.val_top1", "%.6f", last_val);
    snprintf(path, sizeof path, "%s/model.safetensors", c.out_dir);
    char src[1024];
    snprintf(src, sizeof src, "eva finetune --linear-probe (%s, from %s, %lld steps)", c.data, c.init, (long long)total);
    st = save_probe(path, model, Wf, bf, C, D, ds, &meta, src);
done:
    eva_ctx_free(ctx);
    eva_model_free(model);
    eva_dataset_free(ds);
    eva_dataset_free(val);
    free(feats); free(labels); free(vfeats); free(vlabels);
    free(W); free(gW); free(muW); free(Wf); free(bias); free(gb); free(mub); free(bf);
    free(rm); free(rv); free(xn); free(perm);
    return st;
}
