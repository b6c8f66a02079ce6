/* test_data.c — training data: IDX parsing (a file written here), class folders, the
 * RandomResizedCrop geometry, the eval augmentation = the inference preprocessing, and the loader
 * contract: identical batches for 1 or 2 worker threads, seek(epoch, batch) = the same batch as
 * reading through, epoch permutations, disjoint rank shards. */
#include "test_util.h"
#include "base/base.h"
#include "train/data.h"

#include <sys/stat.h>
#include <zlib.h>

static void be32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

/* n images of 12x10 pixels, pixel value = (i * 7 + y + x) & 255, label = i % 3 */
static void write_idx(const char *dir, int n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/toy-images-idx3-ubyte.gz", dir);
    gzFile f = gzopen(path, "wb");
    uint8_t hdr[16];
    be32(hdr, 0x803); be32(hdr + 4, (uint32_t)n); be32(hdr + 8, 12); be32(hdr + 12, 10);
    gzwrite(f, hdr, 16);
    for (int i = 0; i < n; i++)
        for (int y = 0; y < 12; y++)
            for (int x = 0; x < 10; x++) { uint8_t v = (uint8_t)(i * 7 + y + x); gzwrite(f, &v, 1); }
    gzclose(f);
    snprintf(path, sizeof path, "%s/toy-labels-idx1-ubyte.gz", dir);
    f = gzopen(path, "wb");
    uint8_t lh[8];
    be32(lh, 0x801); be32(lh + 4, (uint32_t)n);
    gzwrite(f, lh, 8);
    for (int i = 0; i < n; i++) { uint8_t v = (uint8_t)(i % 3); gzwrite(f, &v, 1); }
    gzclose(f);
}

static void read_all(eva_loader *l, int batches, int B, int S, float *imgs, int64_t *idx) {
    for (int b = 0; b < batches; b++) {
        int n;
        int64_t ep;
        int labels[64];
        CHECK_OK(eva_loader_next(l, imgs + (size_t)b * B * 3 * S * S, labels, idx + (size_t)b * B, &n, &ep));
    }
}

int main(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/test_data.%d", test_tmp_dir(), (int)getpid());
    mkdir(dir, 0755);
    int N = 37;
    write_idx(dir, N);
    char path[600];
    snprintf(path, sizeof path, "%s/toy-images-idx3-ubyte.gz", dir);
    eva_dataset *ds;
    CHECK_OK(eva_dataset_open(path, &ds));
    if (!ds) return test_finish("test_data");
    CHECK(eva_dataset_size(ds) == N && eva_dataset_classes(ds) == 3, "idx: %lld samples %d classes",
          (long long)eva_dataset_size(ds), eva_dataset_classes(ds));
    eva_image im;
    CHECK_OK(eva_dataset_image(ds, 5, &im));
    CHECK(im.width == 10 && im.height == 12 && im.data[3 * (3 * 10 + 4) + 1] == (uint8_t)(5 * 7 + 3 + 4), "idx pixels");
    CHECK(eva_dataset_label(ds, 5) == 2, "idx label");

    /* RandomResizedCrop geometry: inside the image, area and ratio within range (when not the fallback) */
    eva_aug_params ap = eva_aug_defaults(EVA_AUG_MIM, 8);
    eva_rng r = eva_rng_make(1, 2);
    int inside = 0, in_range = 0;
    for (int t = 0; t < 2000; t++) {
        int x0, y0, w, h;
        eva_rrc_params(200, 150, &ap, &r, &x0, &y0, &w, &h);
        inside += x0 >= 0 && y0 >= 0 && x0 + w <= 200 && y0 + h <= 150 && w > 0 && h > 0;
        double a = (double)w * h / (200.0 * 150), ratio = (double)w / h;
        in_range += a >= 0.2 - 0.02 && a <= 1.0 + 0.02 && ratio >= 0.75 - 0.03 && ratio <= 4.0 / 3 + 0.03;
    }
    CHECK(inside == 2000, "%d crops outside the image", 2000 - inside);
    CHECK(in_range >= 1990, "only %d crops within scale/ratio", in_range);

    /* loader determinism */
    int B = 4, S = 8;
    eva_loader_params lp = {.batch = B, .threads = 1, .prefetch = 2, .seed = 42, .shuffle = true, .drop_last = true,
                            .rank = 0, .world = 1, .aug = ap};
    int per_epoch = N / B, total = per_epoch * 2 + 1;
    size_t img_n = (size_t)total * B * 3 * S * S;
    float *a = malloc(sizeof(float) * img_n), *b = malloc(sizeof(float) * img_n);
    int64_t *ia = malloc(sizeof(int64_t) * total * B), *ib = malloc(sizeof(int64_t) * total * B);
    eva_loader *l;
    CHECK_OK(eva_loader_create(ds, &lp, &l));
    CHECK(eva_loader_batches_per_epoch(l) == per_epoch, "batches per epoch %lld", (long long)eva_loader_batches_per_epoch(l));
    read_all(l, total, B, S, a, ia);
    eva_loader_free(l);
    lp.threads = 2;
    lp.prefetch = 3;
    CHECK_OK(eva_loader_create(ds, &lp, &l));
    read_all(l, total, B, S, b, ib);
    CHECK(memcmp(a, b, sizeof(float) * img_n) == 0 && memcmp(ia, ib, sizeof(int64_t) * total * B) == 0,
          "batches depend on the number of loader threads");
    /* resume at epoch 1, batch 2 = what reading through produced there */
    CHECK_OK(eva_loader_seek(l, 1, 2));
    read_all(l, 1, B, S, b, ib);
    size_t at = (size_t)(per_epoch + 2) * B;
    CHECK(memcmp(b, a + at * 3 * S * S, sizeof(float) * B * 3 * S * S) == 0 && memcmp(ib, ia + at, sizeof(int64_t) * B) == 0,
          "seek(1, 2) differs from reading through");
    eva_loader_free(l);
    /* epoch 0 visits distinct samples; epoch 1 is another order */
    int seen[64] = {0}, dup = 0;
    for (int i = 0; i < per_epoch * B; i++) dup += seen[ia[i]]++ > 0;
    CHECK(dup == 0, "%d duplicates within an epoch", dup);
    CHECK(memcmp(ia, ia + per_epoch * B, sizeof(int64_t) * per_epoch * B) != 0, "epochs 0 and 1 in the same order");
    /* two ranks: disjoint shards of the same permutation */
    int owner[64];
    memset(owner, -1, sizeof owner);
    int clash = 0;
    for (int rank = 0; rank < 2; rank++) {
        eva_loader_params lr = lp;
        lr.rank = rank;
        lr.world = 2;
        lr.batch = 3;
        CHECK_OK(eva_loader_create(ds, &lr, &l));
        int nb = (int)eva_loader_batches_per_epoch(l);
        CHECK(nb == (N / 2) / 3, "rank batches %d", nb);
        for (int k = 0; k < nb; k++) {
            float img[3 * 3 * 8 * 8];
            int labels[3], n;
            int64_t idx[3], ep;
            CHECK_OK(eva_loader_next(l, img, labels, idx, &n, &ep));
            for (int i = 0; i < n; i++) {
                clash += owner[idx[i]] >= 0 && owner[idx[i]] != rank;
                owner[idx[i]] = rank;
            }
        }
        eva_loader_free(l);
    }
    CHECK(clash == 0, "%d samples on both ranks", clash);

    /* evaluation augmentation = the inference preprocessing of the same image */
    eva_aug_params ev = eva_aug_defaults(EVA_AUG_EVAL, 8);
    float x1[3 * 64], x2[3 * 64];
    CHECK_OK(eva_augment(&im, &ev, &r, x1));
    eva_preprocess_params pp = {.size = 8, .crop_pct = 1.0f, .squash = 0};
    memcpy(pp.mean, ev.mean, sizeof pp.mean);
    memcpy(pp.std, ev.std, sizeof pp.std);
    CHECK_OK(eva_preprocess_image(&im, &pp, x2, NULL));
    CHECK(memcmp(x1, x2, sizeof x1) == 0, "eval augmentation differs from eva_preprocess_image");
    eva_image_free(&im);

    /* bad datasets */
    eva_dataset *bad = NULL;
    CHECK(eva_dataset_open("/nonexistent/path", &bad) != EVA_OK && !bad, "missing path accepted");
    CHECK(eva_dataset_open("fashion-mnist:validation", &bad) == EVA_ERR_INVALID_ARG, "bad split accepted");
    char empty[600];
    snprintf(empty, sizeof empty, "%s/empty", dir);
    mkdir(empty, 0755);
    CHECK(eva_dataset_open(empty, &bad) == EVA_ERR_INVALID_ARG && strstr(eva_last_error(), "no images"), "empty folder: %s",
          eva_last_error());
    free(a); free(b); free(ia); free(ib);
    eva_dataset_free(ds);
    return test_finish("test_data");
}
