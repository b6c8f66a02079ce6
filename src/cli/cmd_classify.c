/* cmd_classify.c — `eva classify`: what is in these photos. Decode + the model's own
 * preprocessing + forward in batches, top-k with probabilities and readable labels. */
#include "cli.h"
#include "cli_images.h"
#include "cli_model.h"

#include <cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char help_classify[] =
    "usage: eva classify [--model M] IMAGE|DIR|@LIST... [-k 5] [--json] [--labels FILE] [-b 8]\n"
    "                    [-t THREADS] [--preprocess official|timm] [--crop-pct P]\n"
    "                    [--resize shortest|squash] [--mean a,b,c] [--std a,b,c] [--exif-rotate]\n"
    "                    [--skip-bad] [model options as in 'eva help forward']\n"
    "\n"
    "Prints the top-k classes of each image with softmax probabilities. Images are decoded\n"
    "(JPEG, PNG, WebP) and preprocessed exactly as the model's reference transform (official\n"
    "EVA-01 by default for official names, timm's for timm names; --preprocess picks one), then\n"
    "run -b at a time. Labels: --labels FILE (one per line, line i = class i), else the\n"
    "ImageNet-1k names for 1000-class models, else class indices. DIR is walked recursively in\n"
    "a stable order; @LIST reads one path per line. Unreadable images are reported and skipped;\n"
    "the exit status is non-zero if any were, unless --skip-bad.\n"
    "Without --model the bundled default is used: a tiny EVA pre-trained and fine-tuned by eva.c\n"
    "on Fashion-MNIST (10 clothing classes; see scripts/train-fmnist.sh).\n";

typedef struct labels {
    char **v;
    int n;
} labels;

static int load_labels(const char *cmd, const char *path, labels *l) {
    FILE *f = fopen(path, "r");
    if (!f) return cli_error(cmd, "%s: cannot open labels: %s", path, strerror(errno));
    char line[4096];
    int cap = 0;
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (l->n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **v = realloc(l->v, sizeof(char *) * (size_t)cap);
            if (!v) { fclose(f); return cli_error(cmd, "out of memory"); }
            l->v = v;
        }
        l->v[l->n++] = strdup(line);
    }
    fclose(f);
    return 0;
}

static const eva_model *g_model;   /* for class names recorded in the model file */

static const char *label_of(const labels *l, bool imagenet, int i, char *buf, size_t cap) {
    if (l->n) return i < l->n ? l->v[i] : "?";
    if (g_model && eva_model_class_name(g_model, i, buf, cap)) return buf;
    if (imagenet) return eva_imagenet_class_name(i);
    return NULL;   /* no names known: callers print the index */
}

int cmd_classify(int argc, char **argv) {
    const char *cmd = "classify", *labels_path = NULL;
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    cli_pre_opts po;
    cli_pre_opts_init(&po);
    cli_paths paths = {0};
    int k = 5, batch = 8, rc = 0;
    bool json = false, skip_bad = false;
    for (int i = 1; i < argc; i++) {
        int r = cli_model_opts_parse(cmd, &mo, argc, argv, &i);
        if (r == 0) r = cli_pre_opts_parse(cmd, &po, argc, argv, &i);
        if (r < 0) { cli_paths_free(&paths); return 2; }
        if (r > 0) continue;
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "-k") || !strcmp(a, "--top")) {
            ok = cli_take_int(cmd, argc, argv, &i, &k);
            if (ok && k < 1) { cli_paths_free(&paths); return cli_usage(cmd, "-k must be at least 1"); }
        } else if (!strcmp(a, "-b") || !strcmp(a, "--batch")) {
            ok = cli_take_int(cmd, argc, argv, &i, &batch);
            if (ok && (batch < 1 || batch > 1024)) { cli_paths_free(&paths); return cli_usage(cmd, "-b must be in 1..1024"); }
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--skip-bad")) {
            skip_bad = true;
        } else if (!strcmp(a, "--labels")) {
            ok = cli_take_str(cmd, argc, argv, &i, &labels_path);
        } else if (a[0] == '-' && a[1]) {
            cli_paths_free(&paths);
            return cli_usage(cmd, "unknown option '%s'", a);
        } else if (cli_paths_add(cmd, &paths, a)) {
            cli_paths_free(&paths);
            return 1;
        }
        if (!ok) { cli_paths_free(&paths); return 2; }
    }
    static char default_model[4096];
    if (!mo.model_path && !mo.synthetic) {
        if (eva_default_model_path(default_model, sizeof default_model) != EVA_OK) {
            cli_paths_free(&paths);
            return cli_usage(cmd, "--model is required: %s", eva_last_error());
        }
        mo.model_path = default_model;
        fprintf(stderr, "eva classify: no --model given, using the bundled model %s\n", default_model);
    }
    if (cli_model_opts_check(cmd, &mo)) { cli_paths_free(&paths); return 2; }
    if (paths.n == 0) { cli_paths_free(&paths); return cli_usage(cmd, "no images given"); }

    labels lab = {0};
    eva_model *model = NULL;
    eva_ctx *ctx = NULL;
    float *images = NULL;
    eva_topk *top = NULL;
    bool *ok = NULL;
    char **errors = NULL;
    cJSON *jroot = NULL;
    int n_bad = 0;
    if (labels_path && load_labels(cmd, labels_path, &lab)) { rc = 1; goto done; }
    if (cli_model_open(cmd, &mo, &model) != EVA_OK) { rc = 1; goto done; }
    eva_model_info info;
    eva_model_get_info(model, &info);
    if (!eva_model_is_classifier(model)) {
        rc = cli_error(cmd, "%s has no classifier head%s", info.arch,
                       info.pooling == EVA_POOL_CLS_NORM ? " (a CLIP vision tower: use 'eva zeroshot' or 'eva embed')" : "");
        goto done;
    }
    if (lab.n && lab.n < info.num_classes)
        fprintf(stderr, "eva classify: warning: %s has %d labels for %d classes\n", labels_path, lab.n, info.num_classes);
    bool imagenet = info.num_classes == 1000;
    g_model = model;
    eva_preprocess_params pp;
    if (cli_pre_resolve(cmd, &po, model, &pp)) { rc = 1; goto done; }
    if (k > info.num_classes) k = info.num_classes;
    int S = pp.size;
    size_t per = (size_t)3 * S * S;
    images = malloc(sizeof(float) * per * (size_t)batch);
    top = malloc(sizeof(eva_topk) * (size_t)k * (size_t)batch);
    ok = calloc((size_t)batch, sizeof(bool));
    errors = calloc((size_t)batch, sizeof(char *));
    if (!images || !top || !ok || !errors) { rc = cli_error(cmd, "out of memory"); goto done; }
    eva_status st = eva_ctx_create(model, mo.threads, &ctx);
    if (st != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
    eva_image_options io = {.exif_rotate = po.exif_rotate};
    if (json) jroot = cJSON_CreateArray();
    for (int start = 0; start < paths.n; start += batch) {
        int n = paths.n - start < batch ? paths.n - start : batch;
        cli_load_batch(paths.v + start, n, &pp, &io, mo.threads, images, ok, errors);
        /* compact the good ones to the front so one forward covers them */
        int good = 0, idx[1024];
        for (int i = 0; i < n; i++) {
            if (!ok[i]) {
                n_bad++;
                fprintf(stderr, "eva classify: skipping %s: %s\n", paths.v[start + i], errors[i]);
                free(errors[i]);
                errors[i] = NULL;
                continue;
            }
            if (good != i) memcpy(images + per * good, images + per * i, sizeof(float) * per);
            idx[good++] = start + i;
        }
        if (!good) continue;
        if ((st = eva_classify(ctx, images, good, k, top)) != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
        for (int g = 0; g < good; g++) {
            char buf[256];
            if (json) {
                cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
                cJSON_AddStringToObject(o, "image", paths.v[idx[g]]);
                for (int j = 0; j < k; j++) {
                    const eva_topk *t = &top[(size_t)g * k + j];
                    cJSON *e = cJSON_CreateObject();
                    cJSON_AddNumberToObject(e, "index", t->index);
                    const char *name = label_of(&lab, imagenet, t->index, buf, sizeof buf);
                    if (name) cJSON_AddStringToObject(e, "label", name);
                    cJSON_AddNumberToObject(e, "prob", t->prob);
                    cJSON_AddNumberToObject(e, "logit", t->logit);
                    cJSON_AddItemToArray(arr, e);
                }
                cJSON_AddItemToObject(o, "top", arr);
                cJSON_AddItemToArray(jroot, o);
            } else {
                printf("%s\n", paths.v[idx[g]]);
                for (int j = 0; j < k; j++) {
                    const eva_topk *t = &top[(size_t)g * k + j];
                    const char *name = label_of(&lab, imagenet, t->index, buf, sizeof buf);
                    if (name) printf("  %d. %6.2f%%  %s (%d)\n", j + 1, 100.0 * t->prob, name, t->index);
                    else printf("  %d. %6.2f%%  class %d\n", j + 1, 100.0 * t->prob, t->index);
                }
            }
        }
    }
    if (json) {
        char *s = cJSON_Print(jroot);
        if (s) puts(s);
        free(s);
    }
    if (n_bad) {
        fprintf(stderr, "eva classify: %d of %d images could not be read\n", n_bad, paths.n);
        if (!skip_bad) rc = 1;
    }
done:
    cJSON_Delete(jroot);
    for (int i = 0; i < lab.n; i++) free(lab.v[i]);
    free(lab.v);
    free(images);
    free(top);
    free(ok);
    free(errors);
    eva_ctx_free(ctx);
    eva_model_free(model);
    cli_paths_free(&paths);
    return rc;
}
