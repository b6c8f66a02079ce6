/* data.c — datasets (folders, IDX), augmentation (flip, RandomResizedCrop with Pillow-exact
 * bicubic), and the prefetching loader. See data.h for the reproducibility contract. */
#include "train/data.h"
#include "pipelines/preprocess.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---------------------------------------------------------------- datasets */

struct eva_dataset {
    /* folder datasets */
    char **paths;
    int *labels;
    int64_t n;
    char **class_names;
    int n_classes;
    /* IDX datasets: n images of h x w grey pixels */
    uint8_t *idx_pixels;
    int idx_h, idx_w;
};

static eva_status read_gz_or_raw(const char *path, uint8_t **data, size_t *size) {
    gzFile f = gzopen(path, "rb");   /* reads plain files too */
    if (!f) return eva_fail(EVA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) { gzclose(f); return eva_fail(EVA_ERR_NOMEM, "out of memory reading %s", path); }
        if (n == cap) {
            if (cap > ((size_t)1 << 34)) { free(buf); gzclose(f); return eva_fail(EVA_ERR_FORMAT, "%s: too large", path); }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); gzclose(f); return eva_fail(EVA_ERR_NOMEM, "out of memory reading %s", path); }
            buf = nb;
            cap *= 2;
        }
        int r = gzread(f, buf + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
        if (r < 0) { free(buf); gzclose(f); return eva_fail(EVA_ERR_FORMAT, "%s: corrupt compressed data", path); }
        if (r == 0) break;
        n += (size_t)r;
    }
    gzclose(f);
    *data = buf;
    *size = n;
    return EVA_OK;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static eva_status open_idx(const char *images_path, eva_dataset *ds) {
    uint8_t *img = NULL, *lab = NULL;
    size_t ni, nl;
    eva_status st = read_gz_or_raw(images_path, &img, &ni);
    if (st != EVA_OK) return st;
    if (ni < 16 || be32(img) != 0x00000803) {
        free(img);
        return eva_fail(EVA_ERR_FORMAT, "%s: not an IDX image file (magic 0x803)", images_path);
    }
    uint32_t n = be32(img + 4), h = be32(img + 8), w = be32(img + 12);
    if (!n || !h || !w || h > 4096 || w > 4096 || (uint64_t)n * h * w != ni - 16) {
        free(img);
        return eva_fail(EVA_ERR_FORMAT, "%s: IDX header (%u x %u x %u) does not match the file size", images_path, n, h, w);
    }
    /* labels: same name with images-idx3 -> labels-idx1 */
    char lpath[4096];
    snprintf(lpath, sizeof lpath, "%s", images_path);
    char *pos = strstr(lpath, "images-idx3");
    if (!pos) {
        free(img);
        return eva_fail(EVA_ERR_FORMAT, "%s: cannot derive the labels file name (expected '...images-idx3...')", images_path);
    }
    memcpy(pos, "labels-idx1", 11);
    st = read_gz_or_raw(lpath, &lab, &nl);
    if (st != EVA_OK) { free(img); return st; }
    if (nl != 8 + (size_t)n || be32(lab) != 0x00000801 || be32(lab + 4) != n) {
        free(img); free(lab);
        return eva_fail(EVA_ERR_FORMAT, "%s: not an IDX label file for %u images", lpath, n);
    }
    ds->n = n;
    ds->idx_h = (int)h;
    ds->idx_w = (int)w;
    ds->idx_pixels = malloc((size_t)n * h * w);
    ds->labels = malloc(sizeof(int) * n);
    if (!ds->idx_pixels || !ds->labels) { free(img); free(lab); return eva_fail(EVA_ERR_NOMEM, "out of memory"); }
    memcpy(ds->idx_pixels, img + 16, (size_t)n * h * w);
    int maxl = 0;
    for (uint32_t i = 0; i < n; i++) {
        ds->labels[i] = lab[8 + i];
        if (ds->labels[i] > maxl) maxl = ds->labels[i];
    }
    free(img);
    free(lab);
    ds->n_classes = maxl + 1;
    bool fmnist = strstr(images_path, "fashion") != NULL && ds->n_classes == 10;
    static const char *fm[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    ds->class_names = calloc((size_t)ds->n_classes, sizeof(char *));
    for (int c = 0; ds->class_names && c < ds->n_classes; c++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%d", c);
        ds->class_names[c] = strdup(fmnist ? fm[c] : buf);
    }
    return EVA_OK;
}

/* dir + "/" + name into out; false (nothing usable) when it does not fit */
static bool join_path(char *out, size_t cap, const char *dir, const char *name) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n >= 0 && (size_t)n < cap;
}

static bool is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png") || !strcasecmp(dot, ".webp"));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct strvec { char **v; int64_t n, cap; } strvec;

static bool sv_push(strvec *s, const char *x) {
    if (s->n == s->cap) {
        int64_t nc = s->cap ? s->cap * 2 : 256;
        char **v = realloc(s->v, sizeof(char *) * (size_t)nc);
        if (!v) return false;
        s->v = v;
        s->cap = nc;
    }
    return (s->v[s->n++] = strdup(x)) != NULL;
}

static void sv_free(strvec *s) {
    for (int64_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* list a directory: entries sorted, hidden ones skipped */
static eva_status list_dir(const char *dir, strvec *out) {
    DIR *d = opendir(dir);
    if (!d) return eva_fail(EVA_ERR_IO, "%s: cannot read directory: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && !sv_push(out, e->d_name)) { closedir(d); return eva_fail(EVA_ERR_NOMEM, "out of memory"); }
    closedir(d);
    if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof(char *), cmp_str);   /* v is NULL when empty */
    return EVA_OK;
}

static eva_status walk_images(const char *dir, strvec *out, int depth) {
    if (depth > 64) return eva_fail(EVA_ERR_INVALID_ARG, "%s: nested too deep", dir);
    strvec names = {0};
    eva_status st = list_dir(dir, &names);
    for (int64_t i = 0; i < names.n && st == EVA_OK; i++) {
        char full[4096];
        if (!join_path(full, sizeof full, dir, names.v[i])) continue;
        struct stat sb;
        if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode)) st = walk_images(full, out, depth + 1);
        else if (is_image_name(names.v[i]) && !sv_push(out, full)) st = eva_fail(EVA_ERR_NOMEM, "out of memory");
    }
    sv_free(&names);
    return st;
}

static eva_status open_folder(const char *root, eva_dataset *ds) {
    strvec top = {0}, classes = {0}, files = {0};
    eva_status st = list_dir(root, &top);
    for (int64_t i = 0; i < top.n && st == EVA_OK; i++) {
        char full[4096];
        if (!join_path(full, sizeof full, root, top.v[i])) continue;
        struct stat sb;
        if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode) && !sv_push(&classes, top.v[i])) st = eva_fail(EVA_ERR_NOMEM, "oom");
    }
    int *labels = NULL;
    int64_t nl = 0;
    if (st == EVA_OK) {
        /* images directly in the root (class 0 if there are no class folders) */
        for (int64_t i = 0; i < top.n && st == EVA_OK; i++) {
            char full[4096];
            if (!join_path(full, sizeof full, root, top.v[i])) continue;
            struct stat sb;
            if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode) && is_image_name(top.v[i]) && !sv_push(&files, full))
                st = eva_fail(EVA_ERR_NOMEM, "oom");
        }
        int64_t root_files = files.n;
        labels = malloc(sizeof(int) * (size_t)(root_files ? root_files : 1));
        for (int64_t i = 0; labels && i < root_files; i++) labels[i] = 0;
        nl = root_files;
        for (int64_t c = 0; c < classes.n && st == EVA_OK && labels; c++) {
            char full[4096];
            if (!join_path(full, sizeof full, root, classes.v[c])) continue;
            int64_t before = files.n;
            st = walk_images(full, &files, 1);
            int *nlab = realloc(labels, sizeof(int) * (size_t)(files.n ? files.n : 1));
            if (!nlab) { st = eva_fail(EVA_ERR_NOMEM, "oom"); break; }
            labels = nlab;
            for (int64_t i = before; i < files.n; i++) labels[i] = (int)c;
            nl = files.n;
        }
        if (!labels && st == EVA_OK) st = eva_fail(EVA_ERR_NOMEM, "oom");
    }
    if (st == EVA_OK && files.n == 0) st = eva_fail(EVA_ERR_INVALID_ARG, "%s: no images found (.jpg .jpeg .png .webp)", root);
    if (st == EVA_OK) {
        ds->paths = files.v;
        ds->n = files.n;
        ds->labels = labels;
        ds->n_classes = classes.n ? (int)classes.n : 1;
        ds->class_names = classes.n ? classes.v : calloc(1, sizeof(char *));
        if (!classes.n && ds->class_names) ds->class_names[0] = strdup("images");
        if (classes.n) classes.v = NULL;
        files.v = NULL;
        (void)nl;
    } else {
        free(labels);
        sv_free(&files);
    }
    sv_free(&top);
    if (classes.v) sv_free(&classes);
    return st;
}

eva_status eva_dataset_open(const char *spec, eva_dataset **out) {
    *out = NULL;
    if (!spec || !*spec) return eva_fail(EVA_ERR_INVALID_ARG, "no dataset given");
    eva_dataset *ds = eva_calloc(1, sizeof *ds);
    if (!ds) return EVA_ERR_NOMEM;
    eva_status st;
    char buf[512];
    if (!strncmp(spec, "fashion-mnist:", 14)) {
        const char *split = spec + 14;
        if (strcmp(split, "train") && strcmp(split, "test")) {
            free(ds);
            return eva_fail(EVA_ERR_INVALID_ARG, "'%s': the split must be train or test", spec);
        }
        snprintf(buf, sizeof buf, "/usr/share/datasets/fashion-mnist/%s-images-idx3-ubyte.gz",
                 strcmp(split, "train") ? "t10k" : "train");
        st = open_idx(buf, ds);
        if (st != EVA_OK) eva_fail_context(st, "Fashion-MNIST (apt-get install dataset-fashion-mnist)");
    } else {
        struct stat sb;
        if (stat(spec, &sb) != 0) st = eva_fail(EVA_ERR_IO, "%s: no such file or directory", spec);
        else if (S_ISDIR(sb.st_mode)) st = open_folder(spec, ds);
        else st = open_idx(spec, ds);
    }
    if (st != EVA_OK) {
        eva_dataset_free(ds);
        return st;
    }
    *out = ds;
    return EVA_OK;
}

void eva_dataset_free(eva_dataset *ds) {
    if (!ds) return;
    for (int64_t i = 0; ds->paths && i < ds->n; i++) free(ds->paths[i]);
    free(ds->paths);
    free(ds->labels);
    for (int c = 0; ds->class_names && c < ds->n_classes; c++) free(ds->class_names[c]);
    free(ds->class_names);
    free(ds->idx_pixels);
    free(ds);
}

int64_t eva_dataset_size(const eva_dataset *ds) { return ds ? ds->n : 0; }
int eva_dataset_classes(const eva_dataset *ds) { return ds ? ds->n_classes : 0; }
const char *eva_dataset_class_name(const eva_dataset *ds, int c) {
    return ds && c >= 0 && c < ds->n_classes && ds->class_names ? ds->class_names[c] : NULL;
}
int eva_dataset_label(const eva_dataset *ds, int64_t i) { return ds && i >= 0 && i < ds->n ? ds->labels[i] : -1; }
const char *eva_dataset_path(const eva_dataset *ds, int64_t i) {
    return ds && ds->paths && i >= 0 && i < ds->n ? ds->paths[i] : NULL;
}

eva_status eva_dataset_image(const eva_dataset *ds, int64_t i, eva_image *out) {
    memset(out, 0, sizeof *out);
    if (!ds || i < 0 || i >= ds->n) return eva_fail(EVA_ERR_INVALID_ARG, "sample %lld out of range", (long long)i);
    if (ds->paths) return eva_image_load(ds->paths[i], NULL, out);
    size_t hw = (size_t)ds->idx_h * ds->idx_w;
    out->data = malloc(hw * 3);
    if (!out->data) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    out->width = ds->idx_w;
    out->height = ds->idx_h;
    const uint8_t *g = ds->idx_pixels + hw * (size_t)i;
    for (size_t p = 0; p < hw; p++) out->data[3 * p] = out->data[3 * p + 1] = out->data[3 * p + 2] = g[p];
    return EVA_OK;
}

/* ---------------------------------------------------------------- augmentation */

eva_aug_params eva_aug_defaults(eva_aug_kind kind, int size) {
    eva_aug_params p;
    memset(&p, 0, sizeof p);
    p.kind = kind;
    p.size = size;
    p.scale_min = kind == EVA_AUG_MIM ? 0.2f : 0.08f;
    p.scale_max = 1.0f;
    p.ratio_min = 3.0f / 4.0f;
    p.ratio_max = 4.0f / 3.0f;
    p.flip_p = kind == EVA_AUG_EVAL ? 0.0f : 0.5f;
    p.crop_pct = 1.0f;
    const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f}, std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    memcpy(p.mean, mean, sizeof mean);
    memcpy(p.std, std, sizeof std);
    return p;
}

/* Python round(): half to even */
static int py_round(double x) {
    double r = nearbyint(x);   /* default rounding mode is to nearest even */
    return (int)r;
}

void eva_rrc_params(int W, int H, const eva_aug_params *p, eva_rng *rng, int *x0, int *y0, int *w, int *h) {
    double area = (double)W * H, lr0 = log(p->ratio_min), lr1 = log(p->ratio_max);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * (p->scale_min + (p->scale_max - p->scale_min) * eva_rng_uniform(rng));
        double ratio = exp(lr0 + (lr1 - lr0) * eva_rng_uniform(rng));
        int ww = py_round(sqrt(target * ratio)), hh = py_round(sqrt(target / ratio));
        if (ww > 0 && hh > 0 && ww <= W && hh <= H) {
            *y0 = (int)eva_rng_below(rng, H - hh + 1);
            *x0 = (int)eva_rng_below(rng, W - ww + 1);
            *w = ww;
            *h = hh;
            return;
        }
    }
    /* fallback: centre crop with the ratio clamped into range */
    double in_ratio = (double)W / H;
    int ww, hh;
    if (in_ratio < p->ratio_min) { ww = W; hh = py_round(ww / p->ratio_min); }
    else if (in_ratio > p->ratio_max) { hh = H; ww = py_round(hh * p->ratio_max); }
    else { ww = W; hh = H; }
    *y0 = (H - hh) / 2;
    *x0 = (W - ww) / 2;
    *w = ww;
    *h = hh;
}

eva_status eva_augment(const eva_image *img, const eva_aug_params *p, eva_rng *rng, float *out) {
    int S = p->size;
    uint8_t *crop = malloc((size_t)S * S * 3);
    if (!crop) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    eva_status st;
    if (p->kind == EVA_AUG_EVAL) {
        eva_preprocess_params pp = {.size = S, .crop_pct = p->crop_pct, .squash = 0};
        memcpy(pp.mean, p->mean, sizeof pp.mean);
        memcpy(pp.std, p->std, sizeof pp.std);
        st = eva_preprocess_crop_u8(img, &pp, crop);
    } else {
        /* MIM (official order): flip the image, then crop it; fine-tuning (timm): crop, then flip.
         * The flip decision is drawn first either way, then the crop box. */
        bool flip = eva_rng_uniform(rng) < p->flip_p;
        int x0, y0, w, h;
        eva_rrc_params(img->width, img->height, p, rng, &x0, &y0, &w, &h);
        const uint8_t *src = img->data;
        uint8_t *mirrored = NULL;
        if (flip && p->kind == EVA_AUG_MIM) {
            mirrored = malloc((size_t)img->width * img->height * 3);
            if (!mirrored) { free(crop); return eva_fail(EVA_ERR_NOMEM, "out of memory"); }
            for (int y = 0; y < img->height; y++)
                for (int x = 0; x < img->width; x++)
                    memcpy(mirrored + ((size_t)y * img->width + x) * 3,
                           img->data + ((size_t)y * img->width + img->width - 1 - x) * 3, 3);
            src = mirrored;
        }
        /* PIL img.crop(box).resize((S, S), BICUBIC): cut the box out, resize all of it */
        uint8_t *box = malloc((size_t)w * h * 3);
        if (!box) st = eva_fail(EVA_ERR_NOMEM, "out of memory");
        else {
            for (int y = 0; y < h; y++)
                memcpy(box + (size_t)y * w * 3, src + ((size_t)(y0 + y) * img->width + x0) * 3, (size_t)w * 3);
            st = eva_resize_bicubic_u8(box, w, h, S, S, 0, 0, S, S, crop);
            free(box);
        }
        free(mirrored);
        if (flip && p->kind != EVA_AUG_MIM && st == EVA_OK) {
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S / 2; x++)
                    for (int c = 0; c < 3; c++) {
                        uint8_t *a = crop + ((size_t)y * S + x) * 3 + c, *b = crop + ((size_t)y * S + S - 1 - x) * 3 + c;
                        uint8_t t = *a;
                        *a = *b;
                        *b = t;
                    }
        }
        /* timm: RandomResizedCrop -> flip -> RandAugment -> ToTensor -> Normalize */
        if (p->kind == EVA_AUG_FINETUNE && p->randaug.num_ops > 0 && st == EVA_OK) {
            uint8_t fill[3];
            eva_randaug_fill(p->mean, fill);
            st = eva_randaug_apply(&p->randaug, fill, rng, crop, S, S);
        }
    }
    if (st == EVA_OK) eva_normalize_chw(crop, S, p->mean, p->std, out);
    free(crop);
    return st;
}

/* ---------------------------------------------------------------- loader */

typedef struct slot {
    float *images;
    int *labels;
    int64_t *indices;
    int n;
    int64_t epoch, batch;
    bool ready;
    eva_status st;
    char err[512];
} slot;

struct eva_loader {
    const eva_dataset *ds;
    eva_loader_params p;
    int64_t shard;                 /* samples per rank per epoch */
    int64_t *perm;                 /* permutation of the current producer epoch */
    int64_t perm_epoch;
    slot *slots;
    int n_slots;
    /* producer position and consumer position */
    int64_t prod_epoch, prod_batch, cons_epoch, cons_batch;
    int head, tail, filled;
    pthread_t thread;
    bool thread_started, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv_ready, cv_space;
    eva_pool *pool;
    int64_t bad;
};

int64_t eva_loader_batches_per_epoch(const eva_loader *l) {
    return l->p.drop_last ? l->shard / l->p.batch : (l->shard + l->p.batch - 1) / l->p.batch;
}

int64_t eva_loader_bad_count(const eva_loader *l) { return __atomic_load_n(&l->bad, __ATOMIC_RELAXED); }

static void make_perm(eva_loader *l, int64_t epoch) {
    int64_t n = eva_dataset_size(l->ds);
    for (int64_t i = 0; i < n; i++) l->perm[i] = i;
    if (l->p.shuffle) {
        eva_rng r = eva_rng_make(l->p.seed, 0x5eed00000000ull + (uint64_t)epoch);
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = eva_rng_below(&r, i + 1), t = l->perm[i];
            l->perm[i] = l->perm[j];
            l->perm[j] = t;
        }
    }
    l->perm_epoch = epoch;
}

typedef struct { eva_loader *l; slot *s; int64_t first; } fill_job;

static void fill_task(void *ctx, int k, int thread) {
    (void)thread;
    fill_job *j = ctx;
    eva_loader *l = j->l;
    int64_t n = eva_dataset_size(l->ds);
    int64_t pos = j->first + k;                         /* position within this rank's shard */
    int64_t idx = l->perm[l->p.rank + pos * l->p.world];
    size_t per = (size_t)3 * l->p.aug.size * l->p.aug.size;
    for (int64_t tries = 0; tries < n; tries++) {
        int64_t cand = (idx + tries) % n;   /* an unreadable sample is replaced by the next one */
        eva_image img;
        if (eva_dataset_image(l->ds, cand, &img) != EVA_OK) {
            __atomic_fetch_add(&l->bad, 1, __ATOMIC_RELAXED);
            continue;
        }
        eva_rng r = eva_rng_make(l->p.seed, ((uint64_t)j->s->epoch << 40) + (uint64_t)cand);
        eva_status st = eva_augment(&img, &l->p.aug, &r, j->s->images + per * (size_t)k);
        eva_image_free(&img);
        if (st != EVA_OK) {
            __atomic_fetch_add(&l->bad, 1, __ATOMIC_RELAXED);
            continue;
        }
        j->s->labels[k] = eva_dataset_label(l->ds, cand);
        j->s->indices[k] = cand;
        return;
    }
    j->s->labels[k] = -1;   /* nothing readable at all: reported by the producer */
}

static void produce(eva_loader *l, slot *s) {
    if (l->perm_epoch != l->prod_epoch) make_perm(l, l->prod_epoch);
    int64_t first = l->prod_batch * l->p.batch;
    int n = (int)EVA_MIN((int64_t)l->p.batch, l->shard - first);
    s->epoch = l->prod_epoch;
    s->batch = l->prod_batch;
    s->n = n;
    s->st = EVA_OK;
    fill_job j = {l, s, first};
    eva_pool_run(l->pool, n, fill_task, &j);
    for (int k = 0; k < n; k++)
        if (s->labels[k] < 0) {
            s->st = EVA_ERR_FORMAT;
            snprintf(s->err, sizeof s->err, "no readable sample in the dataset");
        }
    if (++l->prod_batch >= eva_loader_batches_per_epoch(l)) {
        l->prod_batch = 0;
        l->prod_epoch++;
    }
}

static void *producer_main(void *arg) {
    eva_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && l->filled == l->n_slots) pthread_cond_wait(&l->cv_space, &l->mu);
        if (l->stop) break;
        slot *s = &l->slots[l->head];
        pthread_mutex_unlock(&l->mu);
        produce(l, s);
        pthread_mutex_lock(&l->mu);
        if (l->stop) break;
        l->head = (l->head + 1) % l->n_slots;
        l->filled++;
        pthread_cond_signal(&l->cv_ready);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void stop_thread(eva_loader *l) {
    if (!l->thread_started) return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_broadcast(&l->cv_space);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    l->thread_started = false;
    l->stop = false;
}

eva_status eva_loader_seek(eva_loader *l, int64_t epoch, int64_t batch) {
    if (epoch < 0 || batch < 0 || batch >= eva_loader_batches_per_epoch(l))
        return eva_fail(EVA_ERR_INVALID_ARG, "loader position (%lld, %lld) out of range", (long long)epoch, (long long)batch);
    stop_thread(l);
    l->prod_epoch = l->cons_epoch = epoch;
    l->prod_batch = l->cons_batch = batch;
    l->head = l->tail = l->filled = 0;
    l->perm_epoch = -1;
    if (pthread_create(&l->thread, NULL, producer_main, l) != 0) return eva_fail(EVA_ERR_NOMEM, "cannot start the loader thread");
    l->thread_started = true;
    return EVA_OK;
}

eva_status eva_loader_create(const eva_dataset *ds, const eva_loader_params *p, eva_loader **out) {
    *out = NULL;
    if (!ds || !p || p->batch < 1 || p->world < 1 || p->rank < 0 || p->rank >= p->world || p->aug.size < 1)
        return eva_fail(EVA_ERR_INVALID_ARG, "loader: bad parameters");
    eva_loader *l = eva_calloc(1, sizeof *l);
    if (!l) return EVA_ERR_NOMEM;
    l->ds = ds;
    l->p = *p;
    if (l->p.threads < 1) l->p.threads = 1;
    if (l->p.prefetch < 1) l->p.prefetch = 2;
    l->shard = eva_dataset_size(ds) / p->world;
    if (l->shard < (p->drop_last ? p->batch : 1)) {
        free(l);
        return eva_fail(EVA_ERR_INVALID_ARG, "the dataset has %lld samples: too few for batch %d on %d rank(s)",
                        (long long)eva_dataset_size(ds), p->batch, p->world);
    }
    l->perm = malloc(sizeof(int64_t) * (size_t)eva_dataset_size(ds));
    l->n_slots = l->p.prefetch;
    l->slots = calloc((size_t)l->n_slots, sizeof(slot));
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv_ready, NULL);
    pthread_cond_init(&l->cv_space, NULL);
    eva_status st = l->perm && l->slots ? eva_pool_create(l->p.threads, &l->pool) : EVA_ERR_NOMEM;
    size_t per = (size_t)3 * p->aug.size * p->aug.size;
    for (int i = 0; i < l->n_slots && st == EVA_OK; i++) {
        l->slots[i].images = eva_aligned_alloc(sizeof(float) * per * (size_t)p->batch);
        l->slots[i].labels = malloc(sizeof(int) * (size_t)p->batch);
        l->slots[i].indices = malloc(sizeof(int64_t) * (size_t)p->batch);
        if (!l->slots[i].images || !l->slots[i].labels || !l->slots[i].indices) st = eva_fail(EVA_ERR_NOMEM, "out of memory");
    }
    if (st == EVA_OK) st = eva_loader_seek(l, 0, 0);
    if (st != EVA_OK) {
        eva_loader_free(l);
        return st;
    }
    *out = l;
    return EVA_OK;
}

eva_status eva_loader_next(eva_loader *l, float *images, int *labels, int64_t *indices, int *n_out, int64_t *epoch_out) {
    pthread_mutex_lock(&l->mu);
    while (l->filled == 0) pthread_cond_wait(&l->cv_ready, &l->mu);
    slot *s = &l->slots[l->tail];
    pthread_mutex_unlock(&l->mu);
    eva_status st = s->st;
    if (st == EVA_OK) {
        size_t per = (size_t)3 * l->p.aug.size * l->p.aug.size;
        memcpy(images, s->images, sizeof(float) * per * (size_t)s->n);
        if (labels) memcpy(labels, s->labels, sizeof(int) * (size_t)s->n);
        if (indices) memcpy(indices, s->indices, sizeof(int64_t) * (size_t)s->n);
        *n_out = s->n;
        if (epoch_out) *epoch_out = s->epoch;
    } else {
        eva_fail(st, "%s", s->err);
    }
    pthread_mutex_lock(&l->mu);
    l->tail = (l->tail + 1) % l->n_slots;
    l->filled--;
    pthread_cond_signal(&l->cv_space);
    pthread_mutex_unlock(&l->mu);
    return st;
}

void eva_loader_free(eva_loader *l) {
    if (!l) return;
    stop_thread(l);
    for (int i = 0; l->slots && i < l->n_slots; i++) {
        eva_aligned_free(l->slots[i].images);
        free(l->slots[i].labels);
        free(l->slots[i].indices);
    }
    free(l->slots);
    free(l->perm);
    eva_pool_free(l->pool);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv_ready);
    pthread_cond_destroy(&l->cv_space);
    free(l);
}
