/* cmd_mim_step.c — `eva mim-step`: one EVA-01 masked-image-modeling training step (forward,
 * cosine loss, backward, global-norm clipping, AdamW) on given inputs, written out in full for
 * conformance checks against the PyTorch golden step (README-train-clip §1). */
#include "cli.h"
#include "train/optim.h"
#include "train/vit_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char help_mim_step[] =
    "usage: eva mim-step --model STUDENT.safetensors --input IN.safetensors -o OUT.safetensors [options]\n"
    "\n"
    "One EVA-01 MIM pre-training step of the student (modeling_pretrain.py): patch embedding with\n"
    "mask tokens at masked patches, the ViT, final norm, lm_head on the masked tokens, loss =\n"
    "-mean cos(pred, teacher) over all masked tokens of the batch, backward, gradient clipping by\n"
    "global L2 norm, one AdamW step with the official parameter groups (no weight decay for 1-D\n"
    "tensors, biases, pos_embed, cls_token).\n"
    "\n"
    "inputs (IN.safetensors):\n"
    "  input.images            F32 [B, 3, S, S]  (already normalised)\n"
    "  input.bool_masked_pos   U8/BOOL [B, N]    1 = masked, N = (S/patch)^2, index row*G + col\n"
    "  input.teacher_features  F32 [B, N, Dt]    teacher output per patch (Dt = lm_head outputs)\n"
    "The architecture comes from the weights (width, depth, MLP, patch, image size, lm_head dim);\n"
    "heads from --heads, else __metadata__ num_heads/heads, else width/64.\n"
    "\n"
    "outputs (OUT.safetensors): output.pred F32 [M, Dt] (masked tokens, batch-major then patch\n"
    "ascending), output.loss F32 [], output.loss_f64 F64 [], output.grad_total_norm F32 [],\n"
    "output.grad_total_norm_f64 F64 [], output.clip_coef F64 [], grad.<name> (before clipping)\n"
    "and after.<name> (parameter after the step) for every parameter, in the parameter's shape.\n"
    "\n"
    "options:\n"
    "  --lr X             learning rate (default 1e-3)\n"
    "  --wd X             weight decay of the decayed group (default 0.05)\n"
    "  --betas B1,B2      Adam betas (default 0.9,0.98)\n"
    "  --eps X            Adam eps (default 1e-6)\n"
    "  --clip-grad X      max global gradient norm, <= 0 = no clipping (default 3.0)\n"
    "  --heads H          attention heads (default: metadata or width/64)\n"
    "  --drop-path X      stochastic depth rate (default 0, as the golden step)\n"
    "  --seed S           drop-path RNG seed (default 0)\n"
    "  --reference        use the plain reference kernels (slow, for checking)\n"
    "  -t N               threads (default: all cores)\n"
    "\n"
    "example: eva mim-step --model mim_student_init.safetensors --input mim_step.safetensors -o out.safetensors\n";

static const char *CMD = "mim-step";

/* Find a tensor of exactly `ndim` dims; returns false after printing the error. */
static bool get_input(eva_tensor_file *f, const char *path, const char *name, int ndim, eva_tensor_view *v) {
    if (eva_tensor_file_find(f, name, v) != EVA_OK) {
        cli_error(CMD, "%s: missing tensor '%s'", path, name);
        return false;
    }
    if (v->ndim != ndim) {
        cli_error(CMD, "%s: '%s' has %d dims, expected %d", path, name, v->ndim, ndim);
        return false;
    }
    return true;
}

static eva_status add_scalar(eva_tensor_writer *w, const char *name, double v) {
    float f = (float)v;
    eva_status st = eva_tensor_writer_add(w, name, EVA_F32, 0, NULL, &f);
    if (st != EVA_OK) return st;
    char n64[64];
    snprintf(n64, sizeof n64, "%s_f64", name);
    return eva_tensor_writer_add(w, n64, EVA_F64, 0, NULL, &v);
}

int cmd_mim_step(int argc, char **argv) {
    const char *model_path = NULL, *in_path = NULL, *out_path = NULL;
    double lr = 1e-3, wd = 0.05, b1 = 0.9, b2 = 0.98, eps = 1e-6, clip = 3.0, drop_path = 0, seed = 0;
    int heads = 0, threads = 0;
    bool reference = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--model") || !strcmp(a, "-m")) {
            if (!cli_take_str(CMD, argc, argv, &i, &model_path)) return 2;
        } else if (!strcmp(a, "--input") || !strcmp(a, "-i")) {
            if (!cli_take_str(CMD, argc, argv, &i, &in_path)) return 2;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!cli_take_str(CMD, argc, argv, &i, &out_path)) return 2;
        } else if (!strcmp(a, "--lr")) {
            if (!cli_take_double(CMD, argc, argv, &i, &lr)) return 2;
        } else if (!strcmp(a, "--wd")) {
            if (!cli_take_double(CMD, argc, argv, &i, &wd)) return 2;
        } else if (!strcmp(a, "--eps")) {
            if (!cli_take_double(CMD, argc, argv, &i, &eps)) return 2;
        } else if (!strcmp(a, "--clip-grad")) {
            if (!cli_take_double(CMD, argc, argv, &i, &clip)) return 2;
        } else if (!strcmp(a, "--drop-path")) {
            if (!cli_take_double(CMD, argc, argv, &i, &drop_path)) return 2;
        } else if (!strcmp(a, "--seed")) {
            if (!cli_take_double(CMD, argc, argv, &i, &seed)) return 2;
            if (seed < 0 || seed > 9007199254740992.0 || seed != (double)(int64_t)seed)
                return cli_usage(CMD, "--seed expects a non-negative integer, got '%s'", argv[i]);
        } else if (!strcmp(a, "--betas")) {
            const char *s;
            if (!cli_take_str(CMD, argc, argv, &i, &s)) return 2;
            char *end;
            b1 = strtod(s, &end);
            if (*end != ',') return cli_usage(CMD, "--betas expects B1,B2 (e.g. 0.9,0.98), got '%s'", s);
            const char *t = end + 1;
            b2 = strtod(t, &end);
            if (end == t || *end) return cli_usage(CMD, "--betas expects B1,B2 (e.g. 0.9,0.98), got '%s'", s);
        } else if (!strcmp(a, "--heads")) {
            if (!cli_take_int(CMD, argc, argv, &i, &heads)) return 2;
            if (heads < 1) return cli_usage(CMD, "--heads must be >= 1, got %d", heads);
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!cli_take_int(CMD, argc, argv, &i, &threads)) return 2;
            if (threads < 1 || threads > 1024) return cli_usage(CMD, "-t must be in [1, 1024], got %d", threads);
        } else if (!strcmp(a, "--reference")) {
            reference = true;
        } else {
            return cli_usage(CMD, "unknown option '%s'", a);
        }
    }
    if (!model_path) return cli_usage(CMD, "--model STUDENT.safetensors is required");
    if (!in_path) return cli_usage(CMD, "--input IN.safetensors is required");
    if (!out_path) return cli_usage(CMD, "-o OUT.safetensors is required");
    if (!(lr >= 0) || !(wd >= 0) || !(eps > 0) || !(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1))
        return cli_usage(CMD, "need lr >= 0, wd >= 0, eps > 0 and betas in [0, 1)");
    if (!(drop_path >= 0 && drop_path < 1)) return cli_usage(CMD, "--drop-path must be in [0, 1), got %g", drop_path);

    eva_vit_train *m = NULL;
    eva_status st = eva_vit_train_load(model_path, heads, threads, &m);
    if (st != EVA_OK) return cli_lib_error(CMD, st);
    if (m->cfg.width % m->cfg.heads) {
        eva_vit_train_free(m);
        return cli_usage(CMD, "width %d is not divisible by %d heads", m->cfg.width, m->cfg.heads);
    }
    m->cfg.drop_path = drop_path;
    m->cfg.seed = (uint64_t)seed;
    if (reference) m->reference = true;

    int rc = 1;
    eva_tensor_file *in = NULL;
    float *images = NULL, *teacher = NULL, *pred = NULL;
    uint8_t *mask = NULL;
    eva_adamw *opt = NULL;
    eva_tensor_writer *w = NULL;
    st = eva_tensor_file_open(in_path, &in);
    if (st != EVA_OK) {
        rc = cli_lib_error(CMD, st);
        goto done;
    }
    const eva_vit_train_config *c = &m->cfg;
    const int G = c->img_size / c->patch, Np = G * G;
    eva_tensor_view vi, vm, vt;
    if (!get_input(in, in_path, "input.images", 4, &vi) || !get_input(in, in_path, "input.bool_masked_pos", 2, &vm) ||
        !get_input(in, in_path, "input.teacher_features", 3, &vt))
        goto done;
    int64_t B = vi.shape[0];
    if (B < 1 || B > 4096 || vi.shape[1] != c->in_chans || vi.shape[2] != c->img_size || vi.shape[3] != c->img_size) {
        rc = cli_error(CMD, "input.images is [%lld, %lld, %lld, %lld] but the model expects [B, %d, %d, %d] (B 1..4096)",
                       (long long)vi.shape[0], (long long)vi.shape[1], (long long)vi.shape[2], (long long)vi.shape[3],
                       c->in_chans, c->img_size, c->img_size);
        goto done;
    }
    if (vm.shape[0] != B || vm.shape[1] != Np) {
        rc = cli_error(CMD, "input.bool_masked_pos is [%lld, %lld] but the %dx%d patch grid of batch %lld needs [%lld, %d]",
                       (long long)vm.shape[0], (long long)vm.shape[1], G, G, (long long)B, (long long)B, Np);
        goto done;
    }
    if (vm.dtype != EVA_U8 && vm.dtype != EVA_BOOL) {
        rc = cli_error(CMD, "input.bool_masked_pos must be U8 or BOOL, got %s", eva_dtype_name(vm.dtype));
        goto done;
    }
    if (vt.shape[0] != B || vt.shape[1] != Np || vt.shape[2] != c->lm_dim) {
        rc = cli_error(CMD, "input.teacher_features is [%lld, %lld, %lld] but needs [%lld, %d, %d] (lm_head outputs %d)",
                       (long long)vt.shape[0], (long long)vt.shape[1], (long long)vt.shape[2], (long long)B, Np,
                       c->lm_dim, c->lm_dim);
        goto done;
    }
    const uint8_t *mraw = vm.data;
    int64_t n_masked = 0;
    for (int64_t k = 0; k < B * Np; k++) {
        if (mraw[k] > 1) {
            rc = cli_error(CMD, "input.bool_masked_pos[%lld] = %d: masks must be 0 or 1", (long long)k, mraw[k]);
            goto done;
        }
        n_masked += mraw[k];
    }
    if (n_masked == 0) {
        rc = cli_error(CMD, "input.bool_masked_pos masks no patch: the MIM loss is undefined");
        goto done;
    }
    size_t n_img = (size_t)B * c->in_chans * c->img_size * c->img_size, n_t = (size_t)B * Np * c->lm_dim;
    images = malloc(sizeof(float) * n_img);
    teacher = malloc(sizeof(float) * n_t);
    pred = malloc(sizeof(float) * (size_t)B * Np * c->lm_dim);
    mask = malloc((size_t)B * Np);
    if (!images || !teacher || !pred || !mask) {
        rc = cli_error(CMD, "out of memory for the inputs");
        goto done;
    }
    memcpy(mask, mraw, (size_t)B * Np);
    if ((st = eva_tensor_convert_f32(&vi, images)) != EVA_OK || (st = eva_tensor_convert_f32(&vt, teacher)) != EVA_OK) {
        rc = cli_lib_error(CMD, st);
        goto done;
    }

    int M = 0;
    double loss = 0;
    double t0 = eva_now_seconds();
    st = eva_vit_train_mim_step(m, images, (int)B, mask, teacher, pred, &M, &loss);
    if (st != EVA_OK) {
        rc = cli_lib_error(CMD, st);
        goto done;
    }
    double norm = eva_grad_global_norm(m->params, m->n_params);
    double coef = eva_grad_clip_coef(norm, clip);

    /* gradients before the step (the optimizer does not modify them) */
    st = eva_tensor_writer_create(&w);
    if (st != EVA_OK) {
        rc = cli_lib_error(CMD, st);
        goto done;
    }
    int64_t pshape[2] = {M, c->lm_dim};
    if ((st = eva_tensor_writer_add(w, "output.pred", EVA_F32, 2, pshape, pred)) != EVA_OK ||
        (st = add_scalar(w, "output.loss", loss)) != EVA_OK ||
        (st = add_scalar(w, "output.grad_total_norm", norm)) != EVA_OK ||
        (st = eva_tensor_writer_add(w, "output.clip_coef", EVA_F64, 0, NULL, &coef)) != EVA_OK) {
        rc = cli_lib_error(CMD, st);
        goto done;
    }
    /* parameter shapes come from the model file's spec order; reuse the tensor's own shape */
    eva_tensor_file *mf = NULL;
    if ((st = eva_tensor_file_open(model_path, &mf)) != EVA_OK) {
        rc = cli_lib_error(CMD, st);
        goto done;
    }
    int64_t (*shapes)[8] = calloc((size_t)m->n_params, sizeof *shapes);
    int *ndims = calloc((size_t)m->n_params, sizeof *ndims);
    if (!shapes || !ndims) {
        free(shapes);
        free(ndims);
        eva_tensor_file_close(mf);
        rc = cli_error(CMD, "out of memory");
        goto done;
    }
    for (int i = 0; i < m->n_params; i++) {
        eva_tensor_view v;
        eva_tensor_file_find(mf, m->params[i].name, &v);   /* present: the load checked every name */
        ndims[i] = v.ndim;
        memcpy(shapes[i], v.shape, sizeof shapes[i]);
    }
    eva_tensor_file_close(mf);
    char name[160];
    for (int i = 0; i < m->n_params && st == EVA_OK; i++) {
        snprintf(name, sizeof name, "grad.%s", m->params[i].name);
        st = eva_tensor_writer_add(w, name, EVA_F32, ndims[i], shapes[i], m->params[i].grad);
    }
    eva_adamw_config oc = eva_adamw_config_pretrain(c->depth);
    oc.beta1 = b1;
    oc.beta2 = b2;
    oc.eps = eps;
    oc.weight_decay = wd;
    if (st == EVA_OK) st = eva_adamw_create(m->params, m->n_params, &oc, &opt);
    if (st == EVA_OK) st = eva_adamw_step(opt, lr, wd, coef, m->pool);
    for (int i = 0; i < m->n_params && st == EVA_OK; i++) {
        snprintf(name, sizeof name, "after.%s", m->params[i].name);
        st = eva_tensor_writer_add(w, name, EVA_F32, ndims[i], shapes[i], m->params[i].param);
    }
    free(shapes);
    free(ndims);
    double t1 = eva_now_seconds();
    if (st == EVA_OK) st = eva_tensor_writer_set_metadata(w, "note", "eva mim-step output (README-train-clip section 1)");
    if (st == EVA_OK) st = eva_tensor_writer_save(w, out_path);
    if (st != EVA_OK) {
        rc = cli_lib_error(CMD, st);
        goto done;
    }
    fprintf(stderr, "mim-step: B %lld, %d masked, loss %.10g, grad norm %.8g, clip coef %.6g, %.1f ms -> %s\n",
            (long long)B, M, loss, norm, coef, (t1 - t0) * 1e3, out_path);
    rc = 0;
done:
    eva_tensor_writer_free(w);
    eva_adamw_free(opt);
    free(images);
    free(teacher);
    free(pred);
    free(mask);
    eva_tensor_file_close(in);
    eva_vit_train_free(m);
    return rc;
}
