/* cmd_zeroshot.c — `eva zeroshot`: EVA-CLIP zero-shot classification of images against class
 * names (ImageNet's 1000 or user labels), with the class-embedding matrix cached on disk. */
#include "cli_clip.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char help_zeroshot[] =
    "usage: eva zeroshot --model CLIP IMAGE... (--labels \"cat,dog,...\" | --labels-file F | --imagenet)\n"
    "                    [--templates default|imagenet80|FILE] [-k 5] [--json] [--cache FILE]\n"
    "                    [--preset NAME] [-t N]\n"
    "\n"
    "Zero-shot classification with an EVA-CLIP model (EVA-CLIP rei / open_clip protocol): every\n"
    "class name is put in every template, each text embedding is L2-normalised, the template\n"
    "embeddings of a class are averaged and the mean is L2-normalised; logits = 100 x normalised\n"
    "image feature . class embedding; probabilities = softmax over the classes; the top k are shown.\n"
    "\n"
    "IMAGE: a JPEG/PNG/WebP file, decoded and preprocessed with --preset (default eva_clip_psz14:\n"
    "       shorter side to S, center crop S, CLIP mean/std) at the model's resolution S; or a\n"
    "       preprocessed tensor FILE.safetensors[:NAME] ([3,S,S] or [B,3,S,S]; default tensor\n"
    "       'input.images' or the file's only tensor), e.g. from `eva preprocess`.\n"
    "--labels       comma-separated class names (surrounding spaces trimmed, empty items skipped)\n"
    "--labels-file  one class name per line; blank (whitespace-only) lines are skipped\n"
    "--imagenet     the 1000 ImageNet classes (zero-shot spelling)\n"
    "--templates    default: \"a photo of a {}.\" (with --imagenet: imagenet80); imagenet80: the 80\n"
    "               OpenAI ImageNet templates; FILE: one template per line, each containing {}\n"
    "--cache FILE   safetensors file for the [classes, E] class-embedding matrix, keyed by the\n"
    "               text tower (its embedding of a probe text), the labels and the templates: reused\n"
    "               when the key matches, (re)computed and written otherwise. 1000 x 80 texts take\n"
    "               a while with a full-size text tower: use it.\n"
    "-k N           top-k (default 5, at most the class count)\n"
    "--json         JSON output: [{\"image\":..., \"top\":[{\"rank\",\"index\",\"label\",\"prob\",\"logit\"}]}]\n";

/* FNV-1a 64 over bytes, chained. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t cache_key(eva_clip *c, int E, char **labels, int C, const char *const *tpl, int T, int *rc) {
    /* the text tower is identified by what it computes: its embedding of a fixed probe text */
    const char *probe[1] = {"eva.c zero-shot cache probe: a photo of a {}."};
    float *e = malloc(sizeof(float) * (size_t)E);
    uint64_t h = 0xcbf29ce484222325ULL;
    eva_status st = e ? eva_clip_encode_texts(c, probe, 1, e, NULL) : EVA_ERR_NOMEM;
    if (st != EVA_OK) *rc = cli_lib_error("zeroshot", st);
    else h = fnv(h, e, sizeof(float) * (size_t)E);
    free(e);
    h = fnv(h, &E, sizeof E);
    for (int i = 0; i < C; i++) h = fnv(h, labels[i], strlen(labels[i]) + 1);
    h = fnv(h, "|", 1);
    for (int i = 0; i < T; i++) h = fnv(h, tpl[i], strlen(tpl[i]) + 1);
    return h;
}

static bool cache_read(const char *path, const char *key, int C, int E, float *W) {
    eva_tensor_file *f;
    if (eva_tensor_file_open(path, &f) != EVA_OK) return false;
    const char *k = eva_tensor_file_metadata(f, "eva.zeroshot_key");
    eva_tensor_view v;
    bool ok = k && !strcmp(k, key) && eva_tensor_file_find(f, "zeroshot.weights", &v) == EVA_OK && v.ndim == 2 &&
              v.shape[0] == C && v.shape[1] == E && v.dtype == EVA_F32;
    if (ok) memcpy(W, v.data, sizeof(float) * (size_t)C * E);
    eva_tensor_file_close(f);
    return ok;
}

static void progress(int done, int total, void *u) {
    (void)u;
    fprintf(stderr, "\reva zeroshot: class embeddings %d/%d", done, total);
    if (done == total) fputc('\n', stderr);
}

typedef struct { float p; int i; } scored;
static int by_prob(const void *a, const void *b) {
    const scored *x = a, *y = b;
    return x->p < y->p ? 1 : x->p > y->p ? -1 : x->i - y->i;
}

int cmd_zeroshot(int argc, char **argv) {
    const char *cmd = "zeroshot", *model = NULL, *labels_s = NULL, *labels_f = NULL, *tpl_s = NULL, *cache = NULL,
               *preset = NULL;
    int threads = 0, k = 5, rc = 0, n_img = 0, C = 0, T = 0;
    bool imagenet = false, json = false;
    char **imgs = calloc((size_t)argc, sizeof *imgs), **labels = NULL, **tpl_lines = NULL;
    const char **tpl = NULL;
    float *W = NULL, *feat = NULL, *logits = NULL, *probs = NULL;
    eva_clip *c = NULL;
    cli_images im = {0};
    if (!imgs) return cli_error(cmd, "out of memory");
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "--model") || !strcmp(a, "-m")) ok = cli_take_str(cmd, argc, argv, &i, &model);
        else if (!strcmp(a, "--labels")) ok = cli_take_str(cmd, argc, argv, &i, &labels_s);
        else if (!strcmp(a, "--labels-file")) ok = cli_take_str(cmd, argc, argv, &i, &labels_f);
        else if (!strcmp(a, "--imagenet")) imagenet = true;
        else if (!strcmp(a, "--templates")) ok = cli_take_str(cmd, argc, argv, &i, &tpl_s);
        else if (!strcmp(a, "--cache")) ok = cli_take_str(cmd, argc, argv, &i, &cache);
        else if (!strcmp(a, "--preset")) ok = cli_take_str(cmd, argc, argv, &i, &preset);
        else if (!strcmp(a, "-k")) ok = cli_take_int(cmd, argc, argv, &i, &k);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) ok = cli_take_int(cmd, argc, argv, &i, &threads);
        else if (!strcmp(a, "--json")) json = true;
        else if (a[0] == '-' && a[1]) rc = cli_usage(cmd, "unknown option '%s'", a);
        else imgs[n_img++] = argv[i];
        if (!ok) rc = 2;
    }
    if (rc) goto done;
    if ((labels_s != NULL) + (labels_f != NULL) + imagenet != 1) {
        rc = cli_usage(cmd, "give exactly one of --labels, --labels-file, --imagenet");
        goto done;
    }
    if (n_img == 0) { rc = cli_usage(cmd, "no IMAGE given"); goto done; }
    if (k < 1 || threads < 0) { rc = cli_usage(cmd, "-k must be >= 1 and -t >= 0"); goto done; }
    /* ---- class names */
    if (imagenet) {
        labels = calloc(1000, sizeof *labels);
        for (C = 0; labels && C < 1000; C++) labels[C] = strdup(eva_imagenet_class_name(C));
        if (!labels) { rc = cli_error(cmd, "out of memory"); goto done; }
    } else if (labels_f) {
        if ((rc = cli_read_lines(cmd, labels_f, true, &labels, &C))) goto done;
    } else {
        labels = calloc(strlen(labels_s) + 1, sizeof *labels);
        if (!labels) { rc = cli_error(cmd, "out of memory"); goto done; }
        for (const char *p = labels_s;;) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            while (n && (*p == ' ' || *p == '\t')) p++, n--;
            while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
            if (n) labels[C++] = strndup(p, n);
            if (!e) break;
            p = e + 1;
        }
    }
    if (C == 0) { rc = cli_usage(cmd, "no class names given"); goto done; }
    /* ---- templates */
    static const char *const k_default[1] = {"a photo of a {}."};
    if (!tpl_s) tpl_s = imagenet ? "imagenet80" : "default";
    if (!strcmp(tpl_s, "default")) {
        tpl = (const char **)k_default;
        T = 1;
    } else if (!strcmp(tpl_s, "imagenet80")) {
        static const char *k80[80];
        for (int i = 0; i < 80; i++) k80[i] = eva_imagenet_template(i);
        tpl = k80;
        T = 80;
    } else {
        if ((rc = cli_read_lines(cmd, tpl_s, true, &tpl_lines, &T))) goto done;
        tpl = (const char **)tpl_lines;
        if (T == 0) { rc = cli_error(cmd, "%s: no templates", tpl_s); goto done; }
        for (int i = 0; i < T; i++)
            if (!strstr(tpl[i], "{}")) { rc = cli_error(cmd, "%s: template %d has no {}", tpl_s, i + 1); goto done; }
    }
    /* ---- model, images */
    if (!(c = cli_clip_open(cmd, model, threads, 0))) { rc = 1; goto done; }
    eva_clip_info ci;
    eva_clip_get_info(c, &ci);
    if (!ci.has_vision) { rc = cli_error(cmd, "%s: no vision tower in this file: zero-shot needs both towers", model); goto done; }
    int E = ci.embed_dim;
    if ((rc = cli_images_load(cmd, &ci, preset, imgs, n_img, &im))) goto done;
    /* ---- class embeddings (cached) */
    W = malloc(sizeof(float) * (size_t)C * E);
    if (!W) { rc = cli_error(cmd, "out of memory"); goto done; }
    char key[32] = "";
    bool have = false;
    if (cache) {
        uint64_t h = cache_key(c, E, labels, C, tpl, T, &rc);
        if (rc) goto done;
        snprintf(key, sizeof key, "%016llx", (unsigned long long)h);
        have = cache_read(cache, key, C, E, W);
    }
    if (!have) {
        eva_status st = eva_clip_zeroshot_weights(c, (const char *const *)labels, C, tpl, T, W,
                                                  cli_stderr_is_tty() && C * T >= 1000 ? progress : NULL, NULL);
        if (st != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
        if (cache) {
            eva_tensor_writer *w;
            int64_t shape[2] = {C, E};
            if ((st = eva_tensor_writer_create(&w)) == EVA_OK) {
                st = eva_tensor_writer_add(w, "zeroshot.weights", EVA_F32, 2, shape, W);
                if (st == EVA_OK) st = eva_tensor_writer_set_metadata(w, "eva.zeroshot_key", key);
                if (st == EVA_OK) st = eva_tensor_writer_set_metadata(w, "eva.zeroshot_templates", tpl_s);
                if (st == EVA_OK) st = eva_tensor_writer_save(w, cache);
                eva_tensor_writer_free(w);
            }
            if (st != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
        }
    }
    /* ---- classify */
    feat = malloc(sizeof(float) * (size_t)im.n * E);
    logits = malloc(sizeof(float) * (size_t)im.n * C);
    probs = malloc(sizeof(float) * (size_t)im.n * C);
    scored *sc = malloc(sizeof(scored) * (size_t)C);
    if (!feat || !logits || !probs || !sc) { free(sc); rc = cli_error(cmd, "out of memory"); goto done; }
    eva_status st = eva_clip_encode_images(c, im.pixels, im.n, im.S, NULL, feat);
    if (st == EVA_OK) st = eva_clip_zeroshot_logits(c, feat, im.n, W, C, 100.0f, logits, probs);
    if (st != EVA_OK) { free(sc); rc = cli_lib_error(cmd, st); goto done; }
    if (k > C) k = C;
    if (json) fputs("[", stdout);
    for (int i = 0; i < im.n; i++) {
        for (int j = 0; j < C; j++) sc[j] = (scored){probs[(size_t)i * C + j], j};
        qsort(sc, (size_t)C, sizeof *sc, by_prob);
        if (json) {
            fputs(i ? ",\n {\"image\": " : "{\"image\": ", stdout);
            cli_json_string(stdout, im.names[i]);
            fputs(", \"top\": [", stdout);
        } else {
            printf("%s\n", im.names[i]);
        }
        for (int r = 0; r < k; r++) {
            int j = sc[r].i;
            if (json) {
                printf("%s{\"rank\": %d, \"index\": %d, \"label\": ", r ? ", " : "", r + 1, j);
                cli_json_string(stdout, labels[j]);
                printf(", \"prob\": %.9g, \"logit\": %.9g}", sc[r].p, logits[(size_t)i * C + j]);
            } else {
                printf("  %2d. %-30s %7.3f%%  (logit %.4f, class %d)\n", r + 1, labels[j], 100.0 * sc[r].p,
                       logits[(size_t)i * C + j], j);
            }
        }
        if (json) fputs("]}", stdout);
    }
    if (json) fputs("]\n", stdout);
    free(sc);
done:
    cli_images_free(&im);
    eva_clip_free(c);
    if (labels) cli_free_lines(labels, C);
    if (tpl_lines) cli_free_lines(tpl_lines, T);
    free(imgs), free(W), free(feat), free(logits), free(probs);
    return rc;
}
