/* test_teacher_cache.c — the teacher cache reader on hand-made files: a valid f16 file reads
 * back exactly and checks the loader's samples; headers with a correct checksum but impossible
 * or overflowing sizes, another version, dtype or world, unterminated strings, and a file cut
 * after opening are refused with EVA_ERR_FORMAT/UNSUPPORTED; random header mutations never crash.
 * (The end-to-end checks — online vs cached bit-identity, resume, mismatched runs — are in
 * cli_teacher_cache.sh.) */
#include "test_util.h"
#include "train/teacher_cache.h"

#include <unistd.h>

enum { HB = EVA_TCACHE_HEADER_BYTES };

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}
/* the header checksum: FNV-1a over the header without its own 8 bytes at offset 96 */
static void seal(uint8_t *h) {
    uint64_t x = fnv(0xcbf29ce484222325ull, h, 96);
    put64(h + 96, fnv(x, h + 104, HB - 104));
}

/* A valid header: f16, size 2, 1 row, dim 2, batch 2, 2 steps, 4 samples. */
static void make_header(uint8_t *h) {
    memset(h, 0, HB);
    memcpy(h, "EVATCACH", 8);
    put32(h + 8, 1);
    put32(h + 12, HB);
    put32(h + 16, 1);
    put32(h + 20, 2);
    put32(h + 24, 1);
    put32(h + 28, 2);
    put32(h + 32, 2);
    put32(h + 36, 1);
    put32(h + 40, (uint32_t)-1);
    put64(h + 48, 2);
    put64(h + 56, 4);
    put64(h + 64, 2);
    put64(h + 72, 5);
    put64(h + 80, 0x1234);
    put64(h + 88, 2 * (16 + 1 * 2 * 2));
    strcpy((char *)h + 104, "data");
    strcpy((char *)h + 1128, "teacher");
    strcpy((char *)h + 2152, "eva");
    seal(h);
}

enum { REC = 2 * (16 + 4) };
static float g_images[2][2][12];   /* [step][sample][3*2*2] */

static void write_file(const char *path, const uint8_t *h, size_t hn, bool records) {
    FILE *f = fopen(path, "wb");
    fwrite(h, 1, hn, f);
    for (int s = 0; records && s < 2; s++) {
        uint8_t r[REC];
        for (int b = 0; b < 2; b++) {
            put64(r + 8 * b, (uint64_t)(2 * s + b));
            put64(r + 16 + 8 * b, eva_tcache_image_hash(g_images[s][b], 12));
            for (int k = 0; k < 2; k++) {
                uint16_t v = eva_f32_to_f16(0.25f * (float)(s * 4 + b * 2 + k) - 1.0f);
                r[32 + 4 * b + 2 * k] = (uint8_t)v;
                r[32 + 4 * b + 2 * k + 1] = (uint8_t)(v >> 8);
            }
        }
        fwrite(r, 1, REC, f);
    }
    fclose(f);
}

static eva_status open_header(const char *path, const uint8_t *h) {
    write_file(path, h, HB, true);
    eva_teacher_cache *tc = NULL;
    eva_status st = eva_teacher_cache_open(path, &tc);
    eva_teacher_cache_free(tc);
    return st;
}

int main(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/test_teacher_cache.%d.tc", test_tmp_dir(), (int)getpid());
    for (int s = 0; s < 2; s++)
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 12; i++) g_images[s][b][i] = (float)(s * 100 + b * 10 + i) * 0.01f;
    uint8_t h[HB];

    /* -- a valid file reads back exactly */
    make_header(h);
    write_file(path, h, HB, true);
    eva_teacher_cache *tc = NULL;
    CHECK_OK(eva_teacher_cache_open(path, &tc));
    if (tc) {
        const eva_teacher_cache_info *i = eva_teacher_cache_get_info(tc);
        CHECK(i->f16 && i->rows == 1 && i->dim == 2 && i->batch == 2 && i->steps == 2 && i->seed == 5 && i->teacher_block == -1,
              "info fields");
        CHECK(i->file_bytes == (uint64_t)HB + 2 * REC && !strcmp(i->teacher, "teacher"), "size %llu", (unsigned long long)i->file_bytes);
        float out[4];
        int64_t idx[2] = {2, 3};
        CHECK_OK(eva_teacher_cache_read(tc, 1, 2, idx, &g_images[1][0][0], out));
        for (int k = 0; k < 4; k++) CHECK(out[k] == 0.25f * (float)(4 + k) - 1.0f, "feature %d = %g", k, out[k]);
        int64_t bad_idx[2] = {2, 4};
        CHECK(eva_teacher_cache_read(tc, 1, 2, bad_idx, &g_images[1][0][0], out) == EVA_ERR_FORMAT, "wrong index accepted");
        CHECK(strstr(eva_last_error(), "step 1 sample 1: the loader gave image 4") != NULL, "message: %s", eva_last_error());
        CHECK(eva_teacher_cache_read(tc, 1, 2, idx, &g_images[0][0][0], out) == EVA_ERR_FORMAT, "wrong image accepted");
        CHECK(eva_teacher_cache_read(tc, 2, 2, idx, &g_images[1][0][0], out) == EVA_ERR_INVALID_ARG, "step past the end");
        CHECK(eva_teacher_cache_read(tc, -1, 2, idx, &g_images[1][0][0], out) == EVA_ERR_INVALID_ARG, "negative step");
        CHECK(eva_teacher_cache_read(tc, 0, 1, idx, &g_images[0][0][0], out) == EVA_ERR_INVALID_ARG, "other batch");
        /* cut after opening: the read of the last step fails cleanly */
        CHECK(truncate(path, HB + REC + 5) == 0, "truncate");
        int64_t idx0[2] = {0, 1};
        CHECK_OK(eva_teacher_cache_read(tc, 0, 2, idx0, &g_images[0][0][0], out));
        CHECK(eva_teacher_cache_read(tc, 1, 2, idx, &g_images[1][0][0], out) == EVA_ERR_FORMAT, "read past a cut file");
        CHECK(strstr(eva_last_error(), "truncated") != NULL, "message: %s", eva_last_error());
        eva_teacher_cache_free(tc);
    }

    /* -- headers with a valid checksum but wrong contents */
    struct { const char *what; int off, bytes; uint64_t value; eva_status want; } cases[] = {
        {"version 2", 8, 4, 2, EVA_ERR_UNSUPPORTED},
        {"header size", 12, 4, 512, EVA_ERR_FORMAT},
        {"dtype 7", 16, 4, 7, EVA_ERR_FORMAT},
        {"size 0", 20, 4, 0, EVA_ERR_FORMAT},
        {"rows 2^30", 24, 4, 1u << 30, EVA_ERR_FORMAT},
        {"dim 0", 28, 4, 0, EVA_ERR_FORMAT},
        {"batch 2^31", 32, 4, 1u << 31, EVA_ERR_FORMAT},
        {"world 2", 36, 4, 2, EVA_ERR_FORMAT},
        {"block -5", 40, 4, (uint32_t)-5, EVA_ERR_FORMAT},
        {"steps 0", 48, 8, 0, EVA_ERR_FORMAT},
        {"steps 2^62", 48, 8, (uint64_t)1 << 62, EVA_ERR_FORMAT},
        {"steps 3 (file too short)", 48, 8, 3, EVA_ERR_FORMAT},
        {"steps 1 (trailing bytes)", 48, 8, 1, EVA_ERR_FORMAT},
        {"samples 1 < batch", 56, 8, 1, EVA_ERR_FORMAT},
        {"per epoch", 64, 8, 3, EVA_ERR_FORMAT},
        {"record bytes", 88, 8, 41, EVA_ERR_FORMAT},
        {"record bytes 2^63", 88, 8, (uint64_t)1 << 63, EVA_ERR_FORMAT},
    };
    for (size_t c = 0; c < EVA_ARRAY_LEN(cases); c++) {
        make_header(h);
        if (cases[c].bytes == 4) put32(h + cases[c].off, (uint32_t)cases[c].value);
        else put64(h + cases[c].off, cases[c].value);
        seal(h);
        eva_status st = open_header(path, h);
        CHECK(st == cases[c].want, "%s: got %s (%s)", cases[c].what, eva_strerror(st), eva_last_error());
    }
    /* huge rows x dim x batch: the record size overflows 64 bits */
    make_header(h);
    put32(h + 24, 1u << 24);
    put32(h + 28, 1u << 20);
    put32(h + 32, 1u << 20);
    put64(h + 56, (uint64_t)1 << 21);
    put64(h + 64, 2);
    seal(h);
    CHECK(open_header(path, h) == EVA_ERR_FORMAT, "overflowing record accepted: %s", eva_last_error());
    /* an unterminated string */
    make_header(h);
    memset(h + 2152, 'x', 16);
    seal(h);
    CHECK(open_header(path, h) == EVA_ERR_FORMAT, "unterminated string accepted");
    /* checksum, magic, short file */
    make_header(h);
    h[200] ^= 1;
    CHECK(open_header(path, h) == EVA_ERR_FORMAT && strstr(eva_last_error(), "damaged"), "checksum: %s", eva_last_error());
    make_header(h);
    h[0] = 'X';
    CHECK(open_header(path, h) == EVA_ERR_FORMAT && strstr(eva_last_error(), "not a teacher cache"), "magic");
    make_header(h);
    write_file(path, h, 100, false);
    CHECK(eva_teacher_cache_open(path, &tc) == EVA_ERR_FORMAT && !tc, "short file");
    CHECK(eva_teacher_cache_open("/nonexistent/x.tc", &tc) == EVA_ERR_IO && !tc, "missing file");

    /* -- random header mutations (checksum resealed): refused or consistent, never a crash */
    eva_rng r = eva_rng_make(42, 0);
    int accepted = 0;
    for (int t = 0; t < 2000; t++) {
        make_header(h);
        int n = 1 + (int)eva_rng_below(&r, 4);
        for (int k = 0; k < n; k++) h[8 + eva_rng_below(&r, 96 - 8)] = (uint8_t)eva_rng_u32(&r);
        seal(h);
        write_file(path, h, HB, true);
        eva_status st = eva_teacher_cache_open(path, &tc);
        if (st == EVA_OK) {
            const eva_teacher_cache_info *i = eva_teacher_cache_get_info(tc);
            CHECK(i->file_bytes == (uint64_t)HB + (uint64_t)i->steps * i->record_bytes, "accepted an inconsistent header");
            accepted++;
        } else {
            CHECK(st == EVA_ERR_FORMAT || st == EVA_ERR_UNSUPPORTED || st == EVA_ERR_NOMEM, "mutation %d: %s", t, eva_strerror(st));
        }
        eva_teacher_cache_free(tc);
        tc = NULL;
    }
    printf("random header mutations: %d of 2000 accepted (consistent)\n", accepted);
    remove(path);
    return test_finish("test_teacher_cache");
}
