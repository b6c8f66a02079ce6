/* teacher_cache.c — build and read precomputed teacher features (see teacher_cache.h). */
#include "train/teacher_cache.h"
#include "train/target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char MAGIC[8] = {'E', 'V', 'A', 'T', 'C', 'A', 'C', 'H'};
enum { TC_VERSION = 1 };
/* header field offsets (bytes) */
enum {
    H_VERSION = 8, H_HEADER_BYTES = 12, H_DTYPE = 16, H_SIZE = 20, H_ROWS = 24, H_DIM = 28, H_BATCH = 32, H_WORLD = 36,
    H_BLOCK = 40, H_STEPS = 48, H_SAMPLES = 56, H_PER_EPOCH = 64, H_SEED = 72, H_FINGERPRINT = 80, H_RECORD = 88,
    H_CHECK = 96, H_DATA = 104, H_TEACHER = 1128, H_KIND = 2152, H_END = 2168
};
_Static_assert(H_END <= EVA_TCACHE_HEADER_BYTES, "header fields fit");

/* ---------------------------------------------------------------- hashing */

static uint64_t fnv(uint64_t h, const void *data, size_t n) {
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}
#define FNV0 0xcbf29ce484222325ull

/* 8 bytes at a time: a sample's augmented image is 3*S*S floats, hashed every step on both sides,
 * so this must cost little next to a forward pass (~0.1 ms at 224 px). Detects, not protects. */
uint64_t eva_tcache_image_hash(const float *img, size_t n) {
    const uint8_t *p = (const uint8_t *)img;
    size_t bytes = n * sizeof(float), words = bytes / 8;
    uint64_t h = FNV0 ^ bytes;
    for (size_t i = 0; i < words; i++) {
        uint64_t w;
        memcpy(&w, p + 8 * i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    return fnv(h, p + 8 * words, bytes - 8 * words);
}

/* Identity of a dataset independent of where it lies: size, class names, every label, and the
 * decoded pixels of up to 4 evenly spaced samples (the per-sample image hashes catch the rest). */
uint64_t eva_tcache_dataset_fingerprint(const eva_dataset *ds) {
    int64_t n = eva_dataset_size(ds);
    int k = eva_dataset_classes(ds);
    uint64_t h = fnv(FNV0, &n, sizeof n);
    h = fnv(h, &k, sizeof k);
    for (int c = 0; c < k; c++) {
        const char *name = eva_dataset_class_name(ds, c);
        if (name) h = fnv(h, name, strlen(name) + 1);
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t lab = eva_dataset_label(ds, i);
        h = fnv(h, &lab, sizeof lab);
    }
    for (int s = 0; s < 4 && n > 0; s++) {
        int64_t i = n * s / 4;
        eva_image img;
        if (eva_dataset_image(ds, i, &img) != EVA_OK) {
            h = fnv(h, "unreadable", 10);
            continue;
        }
        int32_t wh[2] = {img.width, img.height};
        h = fnv(h, wh, sizeof wh);
        h = fnv(h, img.data, (size_t)img.width * img.height * 3);
        eva_image_free(&img);
    }
    return h;
}

/* ---------------------------------------------------------------- header */

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t header_check(const uint8_t *h) {
    uint64_t x = fnv(FNV0, h, H_CHECK);
    return fnv(x, h + H_CHECK + 8, EVA_TCACHE_HEADER_BYTES - H_CHECK - 8);
}

static void header_encode(const eva_teacher_cache_info *in, uint8_t *h) {
    memset(h, 0, EVA_TCACHE_HEADER_BYTES);
    memcpy(h, MAGIC, 8);
    put32(h + H_VERSION, TC_VERSION);
    put32(h + H_HEADER_BYTES, EVA_TCACHE_HEADER_BYTES);
    put32(h + H_DTYPE, in->f16 ? 1 : 0);
    put32(h + H_SIZE, (uint32_t)in->size);
    put32(h + H_ROWS, (uint32_t)in->rows);
    put32(h + H_DIM, (uint32_t)in->dim);
    put32(h + H_BATCH, (uint32_t)in->batch);
    put32(h + H_WORLD, (uint32_t)in->world);
    put32(h + H_BLOCK, (uint32_t)in->teacher_block);
    put64(h + H_STEPS, (uint64_t)in->steps);
    put64(h + H_SAMPLES, (uint64_t)in->samples);
    put64(h + H_PER_EPOCH, (uint64_t)in->per_epoch);
    put64(h + H_SEED, in->seed);
    put64(h + H_FINGERPRINT, in->data_fingerprint);
    put64(h + H_RECORD, in->record_bytes);
    snprintf((char *)h + H_DATA, H_TEACHER - H_DATA, "%s", in->data);
    snprintf((char *)h + H_TEACHER, H_KIND - H_TEACHER, "%s", in->teacher);
    snprintf((char *)h + H_KIND, H_END - H_KIND, "%s", in->teacher_kind);
    put64(h + H_CHECK, header_check(h));
}

/* Bytes of one step's record, with overflow checks; false when absurd. */
static bool record_bytes(int64_t batch, int64_t rows, int64_t dim, bool f16, uint64_t *out) {
    size_t per, feat;
    if (!eva_size_mul((size_t)rows, (size_t)dim, &per) || !eva_size_mul(per, f16 ? 2 : 4, &feat)) return false;
    if (feat > SIZE_MAX - 16) return false;
    size_t rec;
    if (!eva_size_mul(feat + 16, (size_t)batch, &rec)) return false;
    *out = rec;
    return true;
}

static eva_status header_decode(const char *path, const uint8_t *h, uint64_t file_bytes, eva_teacher_cache_info *o) {
    memset(o, 0, sizeof *o);
    if (memcmp(h, MAGIC, 8) != 0) return eva_fail(EVA_ERR_FORMAT, "%s: not a teacher cache (bad magic; make one with eva teacher-cache)", path);
    o->version = (int)get32(h + H_VERSION);
    if (o->version != TC_VERSION)
        return eva_fail(EVA_ERR_UNSUPPORTED, "%s: teacher cache version %u, this eva reads version %d", path, (unsigned)o->version, TC_VERSION);
    if (get32(h + H_HEADER_BYTES) != EVA_TCACHE_HEADER_BYTES || get64(h + H_CHECK) != header_check(h))
        return eva_fail(EVA_ERR_FORMAT, "%s: teacher cache header is damaged (checksum mismatch)", path);
    uint32_t dt = get32(h + H_DTYPE);
    if (dt > 1) return eva_fail(EVA_ERR_FORMAT, "%s: teacher cache dtype code %u unknown", path, (unsigned)dt);
    o->f16 = dt == 1;
    uint32_t size = get32(h + H_SIZE), rows = get32(h + H_ROWS), dim = get32(h + H_DIM), batch = get32(h + H_BATCH);
    uint32_t world = get32(h + H_WORLD);
    int32_t block = (int32_t)get32(h + H_BLOCK);
    uint64_t steps = get64(h + H_STEPS), samples = get64(h + H_SAMPLES), per_epoch = get64(h + H_PER_EPOCH);
    if (size < 1 || size > 65536 || rows < 1 || rows > (1u << 24) || dim < 1 || dim > (1u << 20) || batch < 1 ||
        batch > (1u << 20) || world != 1 || block < -1 || steps < 1 || steps > ((uint64_t)1 << 40) || samples < batch ||
        samples > ((uint64_t)1 << 40) || per_epoch != samples / batch)
        return eva_fail(EVA_ERR_FORMAT, "%s: teacher cache header holds impossible sizes (size %u, rows %u, dim %u, batch %u, "
                        "steps %llu, samples %llu)", path, (unsigned)size, (unsigned)rows, (unsigned)dim, (unsigned)batch,
                        (unsigned long long)steps, (unsigned long long)samples);
    o->size = (int)size;
    o->rows = (int)rows;
    o->dim = (int)dim;
    o->batch = (int)batch;
    o->world = (int)world;
    o->teacher_block = block;
    o->steps = (int64_t)steps;
    o->samples = (int64_t)samples;
    o->per_epoch = (int64_t)per_epoch;
    o->seed = get64(h + H_SEED);
    o->data_fingerprint = get64(h + H_FINGERPRINT);
    uint64_t rec;
    if (!record_bytes(batch, rows, dim, o->f16, &rec) || rec != get64(h + H_RECORD))
        return eva_fail(EVA_ERR_FORMAT, "%s: teacher cache record size does not match its shape", path);
    o->record_bytes = rec;
    if (rec > UINT64_MAX / steps || rec * steps > UINT64_MAX - EVA_TCACHE_HEADER_BYTES)
        return eva_fail(EVA_ERR_FORMAT, "%s: teacher cache size overflows", path);
    uint64_t want = EVA_TCACHE_HEADER_BYTES + rec * steps;
    if (file_bytes < want)
        return eva_fail(EVA_ERR_FORMAT, "%s: teacher cache truncated: %llu bytes, %llu expected for %llu steps", path,
                        (unsigned long long)file_bytes, (unsigned long long)want, (unsigned long long)steps);
    if (file_bytes > want)
        return eva_fail(EVA_ERR_FORMAT, "%s: teacher cache has %llu bytes after its last step", path,
                        (unsigned long long)(file_bytes - want));
    o->file_bytes = file_bytes;
    /* strings: NUL-terminated inside their fields */
    if (!memchr(h + H_DATA, 0, H_TEACHER - H_DATA) || !memchr(h + H_TEACHER, 0, H_KIND - H_TEACHER) ||
        !memchr(h + H_KIND, 0, H_END - H_KIND))
        return eva_fail(EVA_ERR_FORMAT, "%s: teacher cache header strings are not terminated", path);
    memcpy(o->data, h + H_DATA, sizeof o->data);
    memcpy(o->teacher, h + H_TEACHER, sizeof o->teacher);
    memcpy(o->teacher_kind, h + H_KIND, sizeof o->teacher_kind);
    return EVA_OK;
}

/* ---------------------------------------------------------------- writing */

eva_teacher_cache_config eva_teacher_cache_defaults(void) {
    eva_teacher_cache_config c;
    memset(&c, 0, sizeof c);
    c.teacher_block = -1;
    c.size = 224;
    c.batch = 32;
    c.loader_threads = 1;
    return c;
}

/* One step's record: indices, image hashes, features (f32 copied, f16 rounded to nearest even). */
static void encode_record(uint8_t *rec, int B, const int64_t *idx, const float *images, size_t img_n, const float *feat,
                          size_t feat_n, bool f16) {
    for (int b = 0; b < B; b++) {
        put64(rec + 8 * (size_t)b, (uint64_t)idx[b]);
        put64(rec + 8 * ((size_t)B + b), eva_tcache_image_hash(images + img_n * b, img_n));
    }
    uint8_t *f = rec + 16 * (size_t)B;
    size_t n = feat_n * (size_t)B;
    if (f16) {
        for (size_t i = 0; i < n; i++) {
            uint16_t v = eva_f32_to_f16(feat[i]);
            f[2 * i] = (uint8_t)v;
            f[2 * i + 1] = (uint8_t)(v >> 8);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, feat + i, 4);
            put32(f + 4 * i, v);
        }
    }
}

eva_status eva_teacher_cache_build(const eva_teacher_cache_config *c, eva_train_progress_fn fn, void *user) {
    if (!c->data || !c->teacher || !c->out) return eva_fail(EVA_ERR_INVALID_ARG, "teacher-cache needs data, a teacher and an output");
    if (c->size < 1 || c->batch < 1 || c->steps < 0 || (c->steps == 0 && c->epochs < 1))
        return eva_fail(EVA_ERR_INVALID_ARG, "teacher-cache: size, batch and steps (or epochs) must be positive");
    eva_status st;
    eva_dataset *ds = NULL;
    eva_target *t = NULL;
    eva_loader *l = NULL;
    float *images = NULL, *feat = NULL;
    int64_t *idx = NULL;
    uint8_t *rec = NULL;
    eva_atomic_file af = {0};
    bool writing = false;
    eva_teacher_cache_info info;
    memset(&info, 0, sizeof info);
    if ((st = eva_dataset_open(c->data, &ds)) != EVA_OK) goto done;
    if ((st = eva_target_open(c->teacher, c->size, c->teacher_block, c->threads, &t)) != EVA_OK) goto done;
    /* exactly the pre-training loader (pretrain.c): same params, rank 0 of 1 */
    eva_loader_params lp = {.batch = c->batch, .threads = c->loader_threads, .prefetch = 2, .seed = c->seed, .shuffle = true,
                            .drop_last = true, .rank = 0, .world = 1, .aug = eva_aug_defaults(EVA_AUG_MIM, c->size)};
    if ((st = eva_loader_create(ds, &lp, &l)) != EVA_OK) goto done;
    info.f16 = c->f16;
    info.size = c->size;
    info.rows = eva_target_rows(t);
    info.dim = eva_target_dim(t);
    info.batch = c->batch;
    info.world = 1;
    info.teacher_block = c->teacher_block;
    info.samples = eva_dataset_size(ds);
    info.per_epoch = eva_loader_batches_per_epoch(l);
    info.steps = c->steps > 0 ? c->steps : info.per_epoch * c->epochs;
    info.seed = c->seed;
    info.data_fingerprint = eva_tcache_dataset_fingerprint(ds);
    snprintf(info.data, sizeof info.data, "%s", c->data);
    snprintf(info.teacher, sizeof info.teacher, "%s", c->teacher);
    snprintf(info.teacher_kind, sizeof info.teacher_kind, "%s", eva_target_kind(t));
    if (!record_bytes(info.batch, info.rows, info.dim, info.f16, &info.record_bytes)) {
        st = eva_fail(EVA_ERR_NOMEM, "teacher-cache: a step's record is too large");
        goto done;
    }
    size_t img_n = (size_t)3 * c->size * c->size, feat_n = (size_t)info.rows * info.dim;
    images = eva_aligned_alloc(sizeof(float) * img_n * (size_t)c->batch);
    feat = eva_aligned_alloc(sizeof(float) * feat_n * (size_t)c->batch);
    idx = malloc(sizeof(int64_t) * (size_t)c->batch);
    rec = malloc(EVA_MAX(info.record_bytes, (uint64_t)EVA_TCACHE_HEADER_BYTES));
    if (!images || !feat || !idx || !rec) {
        st = eva_fail(EVA_ERR_NOMEM, "teacher-cache: out of memory");
        goto done;
    }
    if ((st = eva_atomic_open(&af, c->out)) != EVA_OK) goto done;
    writing = true;
    header_encode(&info, rec);
    if ((st = eva_atomic_write(&af, rec, EVA_TCACHE_HEADER_BYTES)) != EVA_OK) goto done;
    double t0 = eva_now_seconds();
    for (int64_t step = 0; step < info.steps; step++) {
        int n;
        int64_t epoch;
        if ((st = eva_loader_next(l, images, NULL, idx, &n, &epoch)) != EVA_OK) goto done;
        if (n != c->batch) {
            st = eva_fail(EVA_ERR_INTERNAL, "teacher-cache: the loader gave a partial batch");
            goto done;
        }
        if ((st = eva_target_features(t, images, n, feat)) != EVA_OK) goto done;
        encode_record(rec, n, idx, images, img_n, feat, feat_n, info.f16);
        if ((st = eva_atomic_write(&af, rec, info.record_bytes)) != EVA_OK) goto done;
        double el = eva_now_seconds() - t0, ips = (double)(step + 1) * c->batch / el;
        if (fn)
            fn(&(eva_train_progress){.step = step + 1, .total_steps = info.steps, .epoch = epoch, .images_per_s = ips,
                                     .eta_s = (double)(info.steps - step - 1) * c->batch / ips, .elapsed_s = el},
               user);
        if (c->stop && *c->stop) {
            st = eva_fail(EVA_ERR_CANCELLED, "stopped at step %lld of %lld; no cache written", (long long)step + 1,
                          (long long)info.steps);
            goto done;
        }
    }
    if (eva_loader_bad_count(l) > 0 && fn) {
        char msg[256];
        snprintf(msg, sizeof msg, "%lld unreadable image(s) were skipped (replaced by the next readable one, as eva pretrain does)",
                 (long long)eva_loader_bad_count(l));
        fn(&(eva_train_progress){.step = info.steps, .total_steps = info.steps, .event = "warning", .message = msg}, user);
    }
    st = eva_atomic_commit(&af);
    writing = false;
done:
    if (writing) eva_atomic_abort(&af);
    eva_aligned_free(images);
    eva_aligned_free(feat);
    free(idx);
    free(rec);
    eva_loader_free(l);
    eva_target_free(t);
    eva_dataset_free(ds);
    return st;
}

/* ---------------------------------------------------------------- reading */

struct eva_teacher_cache {
    int fd;
    char *path;
    eva_teacher_cache_info info;
    uint8_t *rec;
};

eva_status eva_teacher_cache_open(const char *path, eva_teacher_cache **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return eva_fail(EVA_ERR_IO, "%s: cannot open the teacher cache: %s", path, strerror(errno));
    struct stat sb;
    uint8_t h[EVA_TCACHE_HEADER_BYTES];
    eva_status st = EVA_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        st = eva_fail(EVA_ERR_IO, "%s: not a regular file", path);
    else if ((uint64_t)sb.st_size < EVA_TCACHE_HEADER_BYTES)
        st = eva_fail(EVA_ERR_FORMAT, "%s: teacher cache truncated: %lld bytes, shorter than its %d-byte header", path,
                      (long long)sb.st_size, EVA_TCACHE_HEADER_BYTES);
    else if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h)
        st = eva_fail(EVA_ERR_IO, "%s: cannot read the teacher cache header", path);
    eva_teacher_cache *tc = NULL;
    if (st == EVA_OK) {
        tc = eva_calloc(1, sizeof *tc);
        if (!tc) st = EVA_ERR_NOMEM;
    }
    if (st == EVA_OK) st = header_decode(path, h, (uint64_t)sb.st_size, &tc->info);
    if (st == EVA_OK) {
        tc->fd = fd;
        tc->path = eva_strdup(path);
        tc->rec = eva_malloc(tc->info.record_bytes);
        if (!tc->path || !tc->rec) st = EVA_ERR_NOMEM;
    }
    if (st != EVA_OK) {
        if (tc) {
            free(tc->path);
            free(tc->rec);
            free(tc);
        }
        close(fd);
        return st;
    }
    *out = tc;
    return EVA_OK;
}

void eva_teacher_cache_free(eva_teacher_cache *tc) {
    if (!tc) return;
    close(tc->fd);
    free(tc->path);
    free(tc->rec);
    free(tc);
}

const eva_teacher_cache_info *eva_teacher_cache_get_info(const eva_teacher_cache *tc) { return &tc->info; }

eva_status eva_teacher_cache_check(const eva_teacher_cache *tc, const eva_dataset *ds, int size, int batch, uint64_t seed,
                                   int world, int64_t total_steps) {
    const eva_teacher_cache_info *i = &tc->info;
    const char *p = tc->path;
#define REFUSE(...) return eva_fail(EVA_ERR_INVALID_ARG, __VA_ARGS__)
    if (world != 1) REFUSE("%s: a teacher cache replays a single process's data stream; this run has %d ranks", p, world);
    if (size != i->size) REFUSE("%s: teacher cache made for --size %d, this run has --size %d (make a new cache)", p, i->size, size);
    if (batch != i->batch) REFUSE("%s: teacher cache made for --batch %d, this run has --batch %d (make a new cache)", p, i->batch, batch);
    if (seed != i->seed)
        REFUSE("%s: teacher cache made for --seed %llu, this run has --seed %llu (make a new cache)", p, (unsigned long long)i->seed,
               (unsigned long long)seed);
    if (eva_dataset_size(ds) != i->samples)
        REFUSE("%s: teacher cache made for a dataset of %lld images (%s), this one has %lld", p, (long long)i->samples, i->data,
               (long long)eva_dataset_size(ds));
    if (eva_tcache_dataset_fingerprint(ds) != i->data_fingerprint)
        REFUSE("%s: teacher cache made for other data (%s: labels or images differ)", p, i->data);
    if (total_steps > i->steps)
        REFUSE("%s: teacher cache holds %lld steps, this run needs %lld (make a longer cache or lower --steps)", p,
               (long long)i->steps, (long long)total_steps);
#undef REFUSE
    return EVA_OK;
}

eva_status eva_teacher_cache_read(eva_teacher_cache *tc, int64_t step, int B, const int64_t *indices, const float *images,
                                  float *out) {
    const eva_teacher_cache_info *i = &tc->info;
    if (step < 0 || step >= i->steps) return eva_fail(EVA_ERR_INVALID_ARG, "%s: step %lld is not cached (%lld steps)", tc->path,
                                                      (long long)step, (long long)i->steps);
    if (B != i->batch) return eva_fail(EVA_ERR_INVALID_ARG, "%s: batch of %d, the cache holds %d per step", tc->path, B, i->batch);
    uint64_t off = EVA_TCACHE_HEADER_BYTES + (uint64_t)step * i->record_bytes, got = 0;
    while (got < i->record_bytes) {
        ssize_t r = pread(tc->fd, tc->rec + got, i->record_bytes - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return eva_fail(r == 0 ? EVA_ERR_FORMAT : EVA_ERR_IO, "%s: reading step %lld: %s", tc->path, (long long)step,
                            r == 0 ? "the file was truncated" : strerror(errno));
        got += (uint64_t)r;
    }
    size_t img_n = (size_t)3 * i->size * i->size, feat_n = (size_t)i->rows * i->dim * (size_t)B;
    for (int b = 0; b < B; b++) {
        int64_t want = (int64_t)get64(tc->rec + 8 * (size_t)b);
        if (want != indices[b])
            return eva_fail(EVA_ERR_FORMAT, "%s: step %lld sample %d: the loader gave image %lld, the cache holds image %lld "
                            "(another dataset or loader version?)", tc->path, (long long)step, b, (long long)indices[b],
                            (long long)want);
        if (get64(tc->rec + 8 * ((size_t)B + b)) != eva_tcache_image_hash(images + img_n * b, img_n))
            return eva_fail(EVA_ERR_FORMAT, "%s: step %lld sample %d: the augmented image differs from the cached one "
                            "(changed image file or augmentation?)", tc->path, (long long)step, b);
    }
    const uint8_t *f = tc->rec + 16 * (size_t)B;
    if (i->f16) {
        for (size_t k = 0; k < feat_n; k++) out[k] = eva_f16_to_f32((uint16_t)(f[2 * k] | f[2 * k + 1] << 8));
    } else {
        for (size_t k = 0; k < feat_n; k++) {
            uint32_t v = get32(f + 4 * k);
            memcpy(out + k, &v, 4);
        }
    }
    return EVA_OK;
}
