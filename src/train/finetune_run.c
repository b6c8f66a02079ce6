/* finetune_run.c — EVA-01 fine-tuning end to end (spec §6): a classifier initialised from a
 * pre-trained EVA (or from scratch), RandomResizedCrop(0.08-1) + flip, label smoothing, optional
 * Mixup/CutMix (timm 0.5.4: one lam per batch, partner = reversed batch, switch prob 0.5),
 * AdamW with layer-wise lr decay and the official groups, warm-up + cosine per step, drop path,
 * EMA of the weights; evaluation after every epoch; checkpoints, resume, metrics as pretrain. */
#include "train/checkpoint.h"
#include "train/comm.h"
#include "train/data.h"
#include "train/finetune.h"
#include "train/finetune_run.h"
#include "train/init.h"
#include "train/optim.h"
#include "train/vit_train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

eva_finetune_config eva_finetune_defaults(void) {
    eva_finetune_config c;
    memset(&c, 0, sizeof c);
    c.width = 192;
    c.depth = 12;
    c.heads = 3;
    c.mlp = 768;
    c.patch = 16;
    c.size = 224;
    c.batch = 32;
    c.epochs = 10;
    c.lr = 1e-3;
    c.min_lr = 1e-6;
    c.warmup_epochs = 1;
    c.weight_decay = 0.05;
    c.layer_decay = 0.75;
    c.drop_path = 0.1;
    c.smoothing = 0.1;
    c.mixup = 0;
    c.cutmix = 0;
    c.ema_decay = 0.9999;
    c.scale_min = 0.08;
    c.stop_grad_conv1 = -1;   /* official default (on) when fine-tuning a pre-trained model, off from scratch */
    c.loader_threads = 1;
    c.keep = 3;
    c.world = 1;
    return c;
}

/* top-1 of the classifier (EMA or live weights) on a dataset with the eval transform */
static eva_status evaluate(eva_vit_train *m, const float *weights, const eva_dataset *ds, int size, int batch,
                           int64_t limit, double *top1) {
    float *saved = NULL;
    if (weights) {   /* evaluate other weights in the same model: swap them in, then back */
        saved = malloc(sizeof(float) * (size_t)m->total);
        if (!saved) return eva_fail(EVA_ERR_NOMEM, "out of memory");
        memcpy(saved, m->param_mem, sizeof(float) * (size_t)m->total);
        memcpy(m->param_mem, weights, sizeof(float) * (size_t)m->total);
    }
    double dp = m->cfg.drop_path;
    m->cfg.drop_path = 0;   /* evaluation: no stochastic depth */
    eva_aug_params ap = eva_aug_defaults(EVA_AUG_EVAL, size);
    int64_t n = eva_dataset_size(ds);
    if (limit > 0 && limit < n) n = limit;
    int C = m->cfg.num_classes;
    float *images = malloc(sizeof(float) * (size_t)batch * 3 * size * size), *logits = malloc(sizeof(float) * (size_t)batch * C);
    int *labels = malloc(sizeof(int) * (size_t)batch);
    eva_status st = images && logits && labels ? EVA_OK : eva_fail(EVA_ERR_NOMEM, "out of memory");
    int64_t correct = 0, seen = 0;
    eva_rng r = eva_rng_make(0, 0);
    for (int64_t s = 0; s < n && st == EVA_OK; s += batch) {
        int nb = 0;
        for (int64_t i = s; i < s + batch && i < n; i++) {
            eva_image img;
            if (eva_dataset_image(ds, i, &img) != EVA_OK) continue;
            if (eva_augment(&img, &ap, &r, images + (size_t)nb * 3 * size * size) == EVA_OK) labels[nb++] = eva_dataset_label(ds, i);
            eva_image_free(&img);
        }
        if (!nb) continue;
        st = eva_vit_train_cls_forward(m, images, nb, logits);
        for (int b = 0; b < nb && st == EVA_OK; b++) {
            int best = 0;
            for (int k = 1; k < C; k++)
                if (logits[(size_t)b * C + k] > logits[(size_t)b * C + best]) best = k;
            correct += best == labels[b];
            seen++;
        }
    }
    m->cfg.drop_path = dp;
    if (saved) {
        memcpy(m->param_mem, saved, sizeof(float) * (size_t)m->total);
        free(saved);
    }
    free(images);
    free(logits);
    free(labels);
    *top1 = seen ? (double)correct / seen : 0;
    return st;
}

static void config_meta(eva_ckpt_meta *m, const eva_finetune_config *c, int classes) {
    eva_meta_set(m, "cfg.data", "%s", c->data);
    if (c->val) eva_meta_set(m, "cfg.val", "%s", c->val);
    if (c->init) eva_meta_set(m, "cfg.init", "%s", c->init);
    eva_meta_set(m, "cfg.width", "%d", c->width);
    eva_meta_set(m, "cfg.depth", "%d", c->depth);
    eva_meta_set(m, "cfg.heads", "%d", c->heads);
    eva_meta_set(m, "cfg.mlp", "%d", c->mlp);
    eva_meta_set(m, "cfg.patch", "%d", c->patch);
    eva_meta_set(m, "cfg.size", "%d", c->size);
    eva_meta_set(m, "cfg.classes", "%d", classes);
    eva_meta_set(m, "cfg.batch", "%d", c->batch);
    eva_meta_set(m, "cfg.epochs", "%d", c->epochs);
    eva_meta_set(m, "cfg.steps", "%lld", (long long)c->steps);
    eva_meta_set(m, "cfg.lr", "%.17g", c->lr);
    eva_meta_set(m, "cfg.min_lr", "%.17g", c->min_lr);
    eva_meta_set(m, "cfg.warmup_epochs", "%.17g", c->warmup_epochs);
    eva_meta_set(m, "cfg.weight_decay", "%.17g", c->weight_decay);
    eva_meta_set(m, "cfg.layer_decay", "%.17g", c->layer_decay);
    eva_meta_set(m, "cfg.drop_path", "%.17g", c->drop_path);
    eva_meta_set(m, "cfg.smoothing", "%.17g", c->smoothing);
    eva_meta_set(m, "cfg.mixup", "%.17g", c->mixup);
    eva_meta_set(m, "cfg.cutmix", "%.17g", c->cutmix);
    eva_meta_set(m, "cfg.ema", "%.17g", c->ema_decay);
    eva_meta_set(m, "cfg.scale_min", "%.17g", c->scale_min);
    eva_meta_set(m, "cfg.aa", "%s", c->aa ? c->aa : "none");
    eva_meta_set(m, "cfg.stop_grad_conv1", "%d", c->stop_grad_conv1);
    eva_meta_set(m, "cfg.precision", "%s", c->bf16 ? "bf16" : "fp32");
    eva_meta_set(m, "cfg.seed", "%llu", (unsigned long long)c->seed);
}

static void config_from_meta(eva_finetune_config *c, const eva_ckpt_meta *m) {
#define GI(f, k) c->f = (int)eva_meta_get_i64(m, k, c->f)
#define GD(f, k) c->f = eva_meta_get_f64(m, k, c->f)
    GI(width, "cfg.width"); GI(depth, "cfg.depth"); GI(heads, "cfg.heads"); GI(mlp, "cfg.mlp"); GI(patch, "cfg.patch");
    GI(size, "cfg.size"); GI(batch, "cfg.batch"); GI(epochs, "cfg.epochs"); GI(stop_grad_conv1, "cfg.stop_grad_conv1");
    GD(lr, "cfg.lr"); GD(min_lr, "cfg.min_lr"); GD(warmup_epochs, "cfg.warmup_epochs"); GD(weight_decay, "cfg.weight_decay");
    GD(layer_decay, "cfg.layer_decay"); GD(drop_path, "cfg.drop_path"); GD(smoothing, "cfg.smoothing");
    GD(mixup, "cfg.mixup"); GD(cutmix, "cfg.cutmix"); GD(ema_decay, "cfg.ema");
    GD(scale_min, "cfg.scale_min");
    const char *prec = eva_meta_get(m, "cfg.precision");
    if (prec) c->bf16 = !strcmp(prec, "bf16");
#undef GI
#undef GD
    c->steps = eva_meta_get_i64(m, "cfg.steps", c->steps);
    c->seed = (uint64_t)eva_meta_get_i64(m, "cfg.seed", (int64_t)c->seed);
    if (!c->data) c->data = eva_meta_get(m, "cfg.data");
    if (!c->val) c->val = eva_meta_get(m, "cfg.val");
    if (!c->init) c->init = eva_meta_get(m, "cfg.init");
    const char *aa = eva_meta_get(m, "cfg.aa");   /* runs from before --aa recorded none: off */
    if (aa) c->aa = aa;
}

/* The result file: live weights under their official names, EMA weights as "model_ema.<name>"
 * (eva eval --ema), class names and preprocessing in the metadata. */
static eva_status save_result(const char *path, eva_vit_train *m, const float *ema, const eva_dataset *ds,
                              const eva_ckpt_meta *meta, const char *source) {
    eva_tensor_writer *w;
    eva_status st = eva_tensor_writer_create(&w);
    char name[300];
    int64_t off = 0;
    for (int i = 0; i < m->n_params && st == EVA_OK; i++) {
        int64_t shape[4];
        int nd = eva_vit_train_shape(m, i, shape);
        st = eva_tensor_writer_add_view(w, m->params[i].name, EVA_F32, nd, shape, m->params[i].param);
        snprintf(name, sizeof name, "model_ema.%s", m->params[i].name);
        if (st == EVA_OK && ema) st = eva_tensor_writer_add_view(w, name, EVA_F32, nd, shape, ema + off);
        off += m->params[i].numel;
    }
    char names[8192] = "";
    for (int k = 0; k < eva_dataset_classes(ds); k++) {
        size_t l = strlen(names);
        snprintf(names + l, sizeof names - l, "%s%s", k ? "\n" : "", eva_dataset_class_name(ds, k));
    }
    for (int i = 0; meta && i < meta->n && st == EVA_OK; i++)
        st = eva_tensor_writer_set_metadata(w, meta->items[i].key, meta->items[i].value);
    char buf[64];
    snprintf(buf, sizeof buf, "%d", m->cfg.heads);
    eva_tensor_writer_set_metadata(w, "eva.heads", buf);
    eva_tensor_writer_set_metadata(w, "eva.arch", "custom");
    eva_tensor_writer_set_metadata(w, "eva.pooling", "mean_fcnorm");
    eva_tensor_writer_set_metadata(w, "eva.class_names", names);
    eva_tensor_writer_set_metadata(w, "eva.source", source);
    if (st == EVA_OK) st = eva_tensor_writer_save(w, path);
    eva_tensor_writer_free(w);
    return st;
}

eva_status eva_finetune_run(const eva_finetune_config *cfg_in, eva_train_progress_fn fn, void *user) {
    eva_finetune_config c = *cfg_in;
    eva_status st = EVA_OK;
    eva_dataset *ds = NULL, *val = NULL;
    eva_loader *loader = NULL;
    eva_vit_train *m = NULL;
    eva_adamw *opt = NULL;
    float *images = NULL, *targets = NULL, *ema = NULL;
    int *labels = NULL;
    eva_param_ref *ema_refs = NULL;
    eva_ckpt_meta meta = {0}, resume_meta = {0};
    char msg[1024], path[4096];
    bool root = c.rank == 0;
    if (!c.out_dir) return eva_fail(EVA_ERR_INVALID_ARG, "finetune needs a run folder (--out)");
    if (mkdir(c.out_dir, 0755) != 0 && errno != EEXIST)
        return eva_fail(EVA_ERR_IO, "%s: cannot create the run folder: %s", c.out_dir, strerror(errno));
    if (c.resume) {
        int skipped;
        st = eva_ckpt_load_latest(c.out_dir, NULL, 0, NULL, &resume_meta, path, sizeof path, &skipped);
        if (st != EVA_OK) return st;
        int64_t keep_steps = c.steps;
        config_from_meta(&c, &resume_meta);
        if (keep_steps > 0) c.steps = keep_steps;
    }
    if (!c.data) return eva_fail(EVA_ERR_INVALID_ARG, "finetune needs --data");
    if ((st = eva_dataset_open(c.data, &ds)) != EVA_OK) goto done;
    if (c.val && (st = eva_dataset_open(c.val, &val)) != EVA_OK) goto done;
    int C = eva_dataset_classes(ds);
    if (C < 2) { st = eva_fail(EVA_ERR_INVALID_ARG, "%s has %d class(es): fine-tuning needs labelled classes", c.data, C); goto done; }
    /* architecture: from the initial checkpoint when there is one */
    if (c.init) {
        eva_model_params mp = eva_model_default_params();
        eva_model *probe = NULL;
        if ((st = eva_model_load(c.init, &mp, &probe)) != EVA_OK) { eva_fail_context(st, "--init %s", c.init); goto done; }
        eva_model_info info;
        eva_model_get_info(probe, &info);
        c.width = info.width;
        c.depth = info.depth;
        c.heads = info.heads;
        c.mlp = info.mlp_hidden;
        c.patch = info.patch;
        eva_model_free(probe);
    }
    if (c.stop_grad_conv1 < 0) c.stop_grad_conv1 = c.init ? 1 : 0;
    if (c.size % c.patch) { st = eva_fail(EVA_ERR_INVALID_ARG, "--size %d is not a multiple of the patch %d", c.size, c.patch); goto done; }
    eva_vit_train_config vc = {.img_size = c.size, .patch = c.patch, .in_chans = 3, .width = c.width, .depth = c.depth,
                               .heads = c.heads, .mlp = c.mlp, .num_classes = C, .stop_grad_conv1 = c.stop_grad_conv1 != 0,
                               .ln_eps = 1e-6f, .drop_path = c.drop_path, .seed = c.seed};
    if ((st = eva_vit_train_create(&vc, c.threads, &m)) != EVA_OK) goto done;
    m->checkpoint_activations = c.checkpoint_activations;
    m->bf16 = c.bf16;
    eva_vit_train_memory_summary(m, c.batch, "model", msg, sizeof msg);
    if (fn && root) fn(&(eva_train_progress){.event = "memory", .message = msg}, user);
    eva_init_config ic = eva_init_config_finetune();
    if ((st = eva_init_vit_params(m->params, m->n_params, &ic, c.seed)) != EVA_OK) goto done;
    if (c.init && !c.resume) {
        int copied = 0;
        if ((st = eva_vit_train_init_from(m, c.init, &copied)) != EVA_OK) goto done;
        snprintf(msg, sizeof msg, "initialised %d tensors from %s (fc_norm and head are new)", copied, c.init);
        if (fn && root) fn(&(eva_train_progress){.event = "init", .message = msg}, user);
    }
    eva_adamw_config ac = eva_adamw_config_finetune(c.depth, c.layer_decay);
    ac.weight_decay = c.weight_decay;
    if ((st = eva_adamw_create(m->params, m->n_params, &ac, &opt)) != EVA_OK) goto done;
    eva_loader_params lp = {.batch = c.batch, .threads = c.loader_threads, .prefetch = 2, .seed = c.seed, .shuffle = true,
                            .drop_last = true, .rank = c.rank, .world = c.world, .aug = eva_aug_defaults(EVA_AUG_FINETUNE, c.size)};
    lp.aug.scale_min = (float)c.scale_min;
    if ((st = eva_randaug_parse(c.aa, &lp.aug.randaug)) != EVA_OK) { eva_fail_context(st, "--aa"); goto done; }
    if ((st = eva_loader_create(ds, &lp, &loader)) != EVA_OK) goto done;
    int64_t per_epoch = eva_loader_batches_per_epoch(loader);
    int64_t total = c.steps > 0 ? c.steps : per_epoch * c.epochs;
    eva_cosine_schedule sched;
    /* with --steps the warm-up + cosine schedule spans exactly those steps; else the epochs */
    int64_t warmup_steps = (int64_t)llround(c.warmup_epochs * per_epoch);
    if (c.steps > 0 && warmup_steps >= total) warmup_steps = total / 10;
    if ((st = c.steps > 0 ? eva_cosine_schedule_init(&sched, c.lr, c.min_lr, 1, total, 0, 0.0, warmup_steps)
                          : eva_cosine_schedule_init(&sched, c.lr, c.min_lr, c.epochs, per_epoch, (int)ceil(c.warmup_epochs), 0.0,
                                                     warmup_steps)) != EVA_OK)
        goto done;
    /* EMA of every parameter, created from the starting weights (timm ModelEma) */
    ema = malloc(sizeof(float) * (size_t)m->total);
    ema_refs = calloc((size_t)m->n_params, sizeof *ema_refs);
    images = eva_aligned_alloc(sizeof(float) * (size_t)c.batch * 3 * c.size * c.size);
    targets = malloc(sizeof(float) * (size_t)c.batch * C);
    labels = malloc(sizeof(int) * (size_t)c.batch);
    if (!ema || !ema_refs || !images || !targets || !labels) { st = eva_fail(EVA_ERR_NOMEM, "out of memory"); goto done; }
    memcpy(ema, m->param_mem, sizeof(float) * (size_t)m->total);
    for (int i = 0; i < m->n_params; i++) {
        ema_refs[i] = m->params[i];
        ema_refs[i].param = ema + (m->params[i].param - m->param_mem);
    }
    int64_t step = 0;
    if (c.resume) {
        int skipped = 0;
        st = eva_ckpt_load_latest_extra(c.out_dir, m->params, m->n_params, opt, ema_refs, m->n_params, &meta, path,
                                        sizeof path, &skipped);
        if (st != EVA_OK) goto done;
        step = eva_meta_get_i64(&meta, "ckpt.step", 0);
        m->step = (uint64_t)eva_meta_get_i64(&meta, "train.forward_count", step);
        if (step >= total) {
            st = eva_fail(EVA_ERR_INVALID_ARG, "%s is already at step %lld of %lld (raise --steps)", path, (long long)step, (long long)total);
            goto done;
        }
        if ((st = eva_loader_seek(loader, step / per_epoch, step % per_epoch)) != EVA_OK) goto done;
        if (root) eva_metrics_truncate(c.out_dir, step);
        snprintf(msg, sizeof msg, "resumed from %s at step %lld", path, (long long)step);
        if (fn && root) fn(&(eva_train_progress){.step = step, .total_steps = total, .event = "resumed", .message = msg}, user);
    }
    if ((st = eva_comm_broadcast_params(m->params, m->n_params)) != EVA_OK) goto done;
    meta.n = 0;
    config_meta(&meta, &c, C);
    double t0 = eva_now_seconds();
    int64_t first = step;
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)c.batch);
    if (!ids) { st = eva_fail(EVA_ERR_NOMEM, "out of memory"); goto done; }
    while (step < total) {
        int n;
        int64_t epoch;
        if ((st = eva_loader_next(loader, images, labels, ids, &n, &epoch)) != EVA_OK) break;
        /* Mixup / CutMix: one draw per batch from (seed, step), timm's switch between the two */
        double lam = 1.0;
        if (c.mixup > 0 || c.cutmix > 0) {
            eva_rng r = eva_rng_make(c.seed ^ 0x6d697875ull, (uint64_t)step * (uint64_t)c.world + (uint64_t)c.rank);
            bool use_cutmix = c.cutmix > 0 && (c.mixup <= 0 || eva_rng_uniform(&r) < 0.5);
            if (use_cutmix) {
                int y0, y1, x0, x1;
                eva_cutmix_box(&r, c.cutmix, c.size, &y0, &y1, &x0, &x1);
                lam = eva_cutmix_apply(images, n, 3, c.size, y0, y1, x0, x1);
            } else {
                lam = eva_rng_beta(&r, c.mixup, c.mixup);
                eva_mixup_apply(images, n, 3, c.size, lam);
            }
        }
        eva_soft_targets(labels, n, C, c.smoothing, lam, targets);
        double loss = 0;
        /* data parallel: the gradient reduction overlaps the backward (comm.h); weight n is known */
        if (c.world > 1) {
            eva_comm_set_compress(c.grad_bf16 ? EVA_COMM_BF16 : EVA_COMM_FP32);
            if ((st = eva_comm_overlap_begin(m->grad_mem, m->total, n, m->params, m->n_params)) != EVA_OK) break;
            if (!c.no_overlap) m->grad_ready = eva_comm_grad_ready;
        }
        st = eva_vit_train_cls_step(m, images, n, targets, NULL, &loss);
        m->grad_ready = NULL;
        if (st != EVA_OK) break;
        double weight = n;
        if (c.world > 1 && c.no_overlap) eva_comm_grad_ready(NULL, 0, m->total);
        st = c.world > 1 ? eva_comm_overlap_finish(&loss, &weight) : eva_comm_allreduce_grads(m->params, m->n_params, &loss, &weight);
        if (st != EVA_OK) break;
        double gnorm = eva_grad_global_norm(m->params, m->n_params);
        double coef = c.clip_grad > 0 ? eva_grad_clip_coef(gnorm, c.clip_grad) : 1.0;
        double lr = eva_cosine_schedule_at(&sched, step);
        if ((st = eva_adamw_step(opt, lr, c.weight_decay, coef, m->pool)) != EVA_OK) break;
        for (int64_t k = 0; k < m->total; k++)
            ema[k] = (float)((double)ema[k] * c.ema_decay + (1.0 - c.ema_decay) * (double)m->param_mem[k]);
        step++;
        double now = eva_now_seconds(), ips = (double)(step - first) * c.batch * c.world / (now - t0);
        double eta = ips > 0 ? (double)(total - step) * c.batch * c.world / ips : 0;
        bool epoch_end = step % per_epoch == 0 || step == total;
        double val_top1 = -1, val_ema = -1;
        if (epoch_end && val && root) {
            if ((st = evaluate(m, NULL, val, c.size, 64, c.val_limit, &val_top1)) != EVA_OK) break;
            if ((st = evaluate(m, ema, val, c.size, 64, c.val_limit, &val_ema)) != EVA_OK) break;
        }
        if (root) {
            int len = snprintf(msg, sizeof msg,
                               "{\"step\": %lld, \"epoch\": %lld, \"lr\": %.6g, \"loss\": %.8f, \"grad_norm\": %.6g, "
                               "\"images_per_s\": %.2f, \"eta_s\": %.0f, \"time_s\": %.3f",
                               (long long)step, (long long)epoch, lr, loss, gnorm, ips, eta, now - t0);
            if (val_top1 >= 0 && len > 0 && (size_t)len < sizeof msg)
                len += snprintf(msg + len, sizeof msg - (size_t)len, ", \"val_top1\": %.6f, \"val_top1_ema\": %.6f", val_top1, val_ema);
            if (len > 0 && (size_t)len < sizeof msg - 2) snprintf(msg + len, sizeof msg - (size_t)len, "}");
            if ((st = eva_metrics_append(c.out_dir, msg)) != EVA_OK) break;
        }
        if (fn && root) {
            fn(&(eva_train_progress){.step = step, .total_steps = total, .epoch = epoch, .lr = lr, .loss = loss,
                                     .grad_norm = gnorm, .images_per_s = ips, .eta_s = eta, .elapsed_s = now - t0},
               user);
            if (val_top1 >= 0) {
                snprintf(msg, sizeof msg, "epoch %lld: validation top-1 %.2f%% (EMA %.2f%%)", (long long)epoch,
                         100 * val_top1, 100 * val_ema);
                fn(&(eva_train_progress){.step = step, .total_steps = total, .event = "eval", .message = msg}, user);
            }
        }
        bool stop = c.stop && *c.stop;
        if (c.world > 1) {   /* the signal may reach the ranks at different steps: stop together */
            double any = stop;
            if ((st = eva_comm_allreduce_sum(&any, 1)) != EVA_OK) break;
            stop = any > 0;
        }
        if (root && (step == total || stop || (c.ckpt_every > 0 && step % c.ckpt_every == 0))) {
            eva_meta_set(&meta, "train.forward_count", "%llu", (unsigned long long)m->step);
            if ((st = eva_ckpt_save_extra(c.out_dir, step, m->params, m->n_params, opt, ema_refs, m->n_params, &meta,
                                          c.keep)) != EVA_OK)
                break;
        }
        if (stop) {
            st = eva_fail(EVA_ERR_CANCELLED, "stopped at step %lld; a checkpoint was written (resume with --resume)", (long long)step);
            break;
        }
    }
    free(ids);
    if (st == EVA_OK && root) {
        snprintf(path, sizeof path, "%s/model.safetensors", c.out_dir);
        char src[1024];
        snprintf(src, sizeof src, "eva finetune (%s%s%s, %lld steps)", c.data, c.init ? ", from " : ", from scratch",
                 c.init ? c.init : "", (long long)step);
        st = save_result(path, m, ema, ds, &meta, src);
    }
done:
    eva_aligned_free(images);
    free(targets);
    free(labels);
    free(ema);
    free(ema_refs);
    eva_loader_free(loader);
    eva_adamw_free(opt);
    eva_vit_train_free(m);
    eva_dataset_free(ds);
    eva_dataset_free(val);
    return st;
}
