/* cmd_finetune_step.c — `eva finetune-step`: one EVA-01 fine-tuning step (forward, label
 * smoothing or CutMix soft targets, cross-entropy, backward, AdamW with layer-wise lr decay,
 * EMA) writing every intermediate a conformance test needs. */
#include "cli.h"
#include "train/finetune.h"
#include "train/optim.h"
#include "train/vit_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char help_finetune_step[] =
    "usage: eva finetune-step --model M --input IN.safetensors -o OUT.safetensors [--lr 3e-5]\n"
    "                         [--layer-decay 0.75] [--wd 0.05] [--betas 0.9,0.999] [--eps 1e-8]\n"
    "                         [--smoothing 0.3] [--ema 0.9999] [--cutmix-box Y0,Y1,X0,X1]\n"
    "                         [--no-stop-grad-conv1] [--heads H] [-t THREADS]\n"
    "\n"
    "Reads input.images F32 [B,3,S,S] and input.labels (I64 or I32) [B]. Soft targets: label\n"
    "smoothing (1 - s + s/C on the label, s/C elsewhere); with --cutmix-box, rows Y0..Y1-1 and\n"
    "columns X0..X1-1 of each image are replaced by those of its partner in the reversed batch and\n"
    "the targets mixed with lam = 1 - box area / S^2 (timm 0.5.4). Loss: soft-target\n"
    "cross-entropy. AdamW (official groups; lr x layer-decay scale r^(L+1-layer id); weight decay\n"
    "on >= 2-D tensors except pos_embed/cls_token), no clipping; stop_grad_conv1 as the official\n"
    "default (patch_embed gets no gradient, no update). EMA: ema = decay ema0 + (1 - decay) p.\n"
    "Writes output.logits, output.loss, output.targets, output.grad_norm, grad.<name> (parameters\n"
    "with a gradient), after.<name>, ema.<name>, all full tensors.\n";

static bool parse_list(const char *s, double *out, int n) {
    char *end;
    for (int k = 0; k < n; k++) {
        out[k] = strtod(s, &end);
        if (end == s) return false;
        s = end;
        if (k < n - 1) {
            if (*s != ',') return false;
            s++;
        }
    }
    return *s == 0;
}

int cmd_finetune_step(int argc, char **argv) {
    const char *cmd = "finetune-step", *model = NULL, *input = NULL, *output = NULL, *v;
    double lr = 3e-5, layer_decay = 0.75, wd = 0.05, betas[2] = {0.9, 0.999}, eps = 1e-8, smoothing = 0.3, ema = 0.9999;
    double box[4];
    bool have_box = false, stop_grad = true;
    int heads = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "--model")) ok = cli_take_str(cmd, argc, argv, &i, &model);
        else if (!strcmp(a, "--input") || !strcmp(a, "-i")) ok = cli_take_str(cmd, argc, argv, &i, &input);
        else if (!strcmp(a, "--output") || !strcmp(a, "-o")) ok = cli_take_str(cmd, argc, argv, &i, &output);
        else if (!strcmp(a, "--lr")) ok = cli_take_double(cmd, argc, argv, &i, &lr);
        else if (!strcmp(a, "--layer-decay")) ok = cli_take_double(cmd, argc, argv, &i, &layer_decay);
        else if (!strcmp(a, "--wd")) ok = cli_take_double(cmd, argc, argv, &i, &wd);
        else if (!strcmp(a, "--eps")) ok = cli_take_double(cmd, argc, argv, &i, &eps);
        else if (!strcmp(a, "--smoothing")) ok = cli_take_double(cmd, argc, argv, &i, &smoothing);
        else if (!strcmp(a, "--ema")) ok = cli_take_double(cmd, argc, argv, &i, &ema);
        else if (!strcmp(a, "--heads")) ok = cli_take_int(cmd, argc, argv, &i, &heads);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) ok = cli_take_int(cmd, argc, argv, &i, &threads);
        else if (!strcmp(a, "--no-stop-grad-conv1")) stop_grad = false;
        else if (!strcmp(a, "--betas")) {
            ok = cli_take_str(cmd, argc, argv, &i, &v);
            if (ok && !parse_list(v, betas, 2)) return cli_usage(cmd, "--betas expects b1,b2, got '%s'", v);
        } else if (!strcmp(a, "--cutmix-box")) {
            ok = cli_take_str(cmd, argc, argv, &i, &v);
            if (ok && !parse_list(v, box, 4)) return cli_usage(cmd, "--cutmix-box expects Y0,Y1,X0,X1, got '%s'", v);
            have_box = true;
        } else return cli_usage(cmd, "unknown option '%s'", a);
        if (!ok) return 2;
    }
    if (!model || !input || !output) return cli_usage(cmd, "--model, --input and -o are required");
    if (!(lr >= 0) || !(smoothing >= 0 && smoothing < 1) || !(ema >= 0 && ema <= 1) || !(eps > 0) || !(layer_decay > 0))
        return cli_usage(cmd, "a hyper-parameter is out of range");

    eva_vit_train *m = NULL;
    eva_tensor_file *in = NULL;
    eva_adamw *opt = NULL;
    eva_tensor_writer *w = NULL;
    float *images = NULL, *targets = NULL, *logits = NULL, *p0 = NULL;
    int *labels = NULL, rc = 0;
    eva_status st = eva_vit_train_load_classifier(model, heads, threads, stop_grad, &m);
    if (st != EVA_OK) return cli_lib_error(cmd, st);
    const eva_vit_train_config *c = &m->cfg;
    const int S = c->img_size, C = c->num_classes;
    if ((st = eva_tensor_file_open(input, &in)) != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
    eva_tensor_view iv, lv;
    if ((st = eva_tensor_file_find(in, "input.images", &iv)) != EVA_OK ||
        (st = eva_tensor_file_find(in, "input.labels", &lv)) != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
    if (iv.ndim != 4 || iv.shape[1] != c->in_chans || iv.shape[2] != S || iv.shape[3] != S || iv.shape[0] < 1 ||
        iv.shape[0] > 4096) {
        rc = cli_error(cmd, "input.images must be [B, %d, %d, %d] for this model", c->in_chans, S, S);
        goto done;
    }
    int B = (int)iv.shape[0];
    if (lv.ndim != 1 || lv.shape[0] != B || (lv.dtype != EVA_I64 && lv.dtype != EVA_I32)) {
        rc = cli_error(cmd, "input.labels must be I64 or I32 [%d]", B);
        goto done;
    }
    size_t img_n = (size_t)B * c->in_chans * S * S;
    images = malloc(sizeof(float) * img_n);
    targets = malloc(sizeof(float) * (size_t)B * C);
    logits = malloc(sizeof(float) * (size_t)B * C);
    labels = malloc(sizeof(int) * (size_t)B);
    p0 = malloc(sizeof(float) * (size_t)m->total);
    if (!images || !targets || !logits || !labels || !p0) { rc = cli_error(cmd, "out of memory"); goto done; }
    if ((st = eva_tensor_convert_f32(&iv, images)) != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
    for (int b = 0; b < B; b++) {
        int64_t y = lv.dtype == EVA_I64 ? ((const int64_t *)lv.data)[b] : ((const int32_t *)lv.data)[b];
        if (y < 0 || y >= C) { rc = cli_error(cmd, "label %lld of sample %d is outside 0..%d", (long long)y, b, C - 1); goto done; }
        labels[b] = (int)y;
    }
    double lam = 1.0;
    if (have_box) {
        int y0 = (int)box[0], y1 = (int)box[1], x0 = (int)box[2], x1 = (int)box[3];
        if (y0 < 0 || y1 > S || x0 < 0 || x1 > S || y0 > y1 || x0 > x1) {
            rc = cli_error(cmd, "--cutmix-box %d,%d,%d,%d is outside the %dx%d image", y0, y1, x0, x1, S, S);
            goto done;
        }
        lam = eva_cutmix_apply(images, B, c->in_chans, S, y0, y1, x0, x1);
    }
    eva_soft_targets(labels, B, C, smoothing, lam, targets);
    memcpy(p0, m->param_mem, sizeof(float) * (size_t)m->total);
    double loss = 0;
    if ((st = eva_vit_train_cls_step(m, images, B, targets, logits, &loss)) != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
    double gnorm = eva_grad_global_norm(m->params, m->n_params);
    eva_adamw_config ac = eva_adamw_config_finetune(c->depth, layer_decay);
    ac.beta1 = betas[0];
    ac.beta2 = betas[1];
    ac.eps = eps;
    ac.weight_decay = wd;
    if ((st = eva_adamw_create(m->params, m->n_params, &ac, &opt)) != EVA_OK ||
        (st = eva_adamw_step(opt, lr, wd, 1.0, m->pool)) != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }

    if ((st = eva_tensor_writer_create(&w)) != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
    float loss_f = (float)loss, gnorm_f = (float)gnorm;
    eva_tensor_writer_add(w, "output.logits", EVA_F32, 2, (int64_t[]){B, C}, logits);
    eva_tensor_writer_add(w, "output.loss", EVA_F32, 0, NULL, &loss_f);
    eva_tensor_writer_add(w, "output.loss_f64", EVA_F64, 0, NULL, &loss);
    eva_tensor_writer_add(w, "output.grad_norm", EVA_F32, 0, NULL, &gnorm_f);
    eva_tensor_writer_add(w, "output.targets", EVA_F32, 2, (int64_t[]){B, C}, targets);
    eva_tensor_writer_add(w, "output.images", EVA_F32, 4, (int64_t[]){B, c->in_chans, S, S}, images);
    char name[300];
    int64_t off = 0;
    for (int i = 0; i < m->n_params && st == EVA_OK; i++) {
        const eva_param_ref *p = &m->params[i];
        int64_t shape[4];
        int nd = eva_vit_train_shape(m, i, shape);
        if (p->grad) {
            snprintf(name, sizeof name, "grad.%s", p->name);
            st = eva_tensor_writer_add(w, name, EVA_F32, nd, shape, p->grad);
        }
        snprintf(name, sizeof name, "after.%s", p->name);
        if (st == EVA_OK) st = eva_tensor_writer_add(w, name, EVA_F32, nd, shape, p->param);
        /* EMA created before the step (= initial weights), updated after it */
        float *e = malloc(sizeof(float) * (size_t)p->numel);
        if (!e) { st = EVA_ERR_NOMEM; break; }
        for (int64_t k = 0; k < p->numel; k++) e[k] = (float)((double)p0[off + k] * ema + (1.0 - ema) * (double)p->param[k]);
        snprintf(name, sizeof name, "ema.%s", p->name);
        if (st == EVA_OK) st = eva_tensor_writer_add(w, name, EVA_F32, nd, shape, e);
        free(e);
        off += p->numel;
    }
    if (st == EVA_OK) st = eva_tensor_writer_save(w, output);
    if (st != EVA_OK) rc = cli_lib_error(cmd, st);
done:
    eva_tensor_writer_free(w);
    eva_adamw_free(opt);
    eva_tensor_file_close(in);
    eva_vit_train_free(m);
    free(images);
    free(targets);
    free(logits);
    free(labels);
    free(p0);
    return rc;
}
