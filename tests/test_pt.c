/* test_pt.c — the PyTorch .pt reader: golden checkpoints, odd layouts made by torch.save, and
 * hostile files (forbidden globals, zip bombs, lying sizes, truncation at every offset).
 * Fixtures: tests/data/pt/, made by scripts/make_pt_fixtures.py; X.expected lists, for each
 * tensor of X.pt: name dtype ndim dims... sum_f64 n values... (as torch.load sees them). */
#include "test_util.h"

#include "io/pt_internal.h"

#define DIR "data/pt/"

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(sz > 0 ? (size_t)sz : 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) { free(b); b = NULL; }
    fclose(f);
    *n = (size_t)sz;
    return b;
}

/* Element i (contiguous order) of a contiguous tensor, as a double. */
static double elem(const eva_tensor *t, int64_t i) {
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case EVA_F32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case EVA_F16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return eva_f16_to_f32(v); }
    case EVA_BF16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return eva_bf16_to_f32(v); }
    case EVA_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    case EVA_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    case EVA_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case EVA_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case EVA_I8: return (int8_t)p[i];
    case EVA_U8: case EVA_BOOL: return p[i];
    default: return NAN;
    }
}

/* Compare every tensor of `map` with the .expected list: names in order, dtype, shape, sum, values. */
static void check_expected(const eva_tensor_map *map, const char *expected_path) {
    FILE *f = fopen(expected_path, "r");
    CHECK(f != NULL, "cannot open %s", expected_path);
    if (!f) return;
    char line[4096];
    int idx = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        char name[1024], dt[16];
        int ndim, pos, used;
        if (sscanf(line, "%1023s %15s %d%n", name, dt, &ndim, &pos) != 3) continue;
        const eva_named_tensor *nt = idx < map->count ? &map->items[idx] : NULL;
        idx++;
        if (!nt || strcmp(nt->name, name) != 0) {
            CHECK(0, "%s: tensor %d is '%s', expected '%s'", expected_path, idx - 1, nt ? nt->name : "(none)", name);
            bad++;
            continue;
        }
        int ok = strcmp(eva_dtype_name(nt->t.dtype), dt) == 0 && nt->t.ndim == ndim;
        for (int k = 0; k < ndim && ok; k++) {
            long long d;
            sscanf(line + pos, "%lld%n", &d, &used);
            pos += used;
            ok = nt->t.shape[k] == d;
        }
        CHECK(ok, "%s: '%s' has dtype/shape %s ndim %d, expected: %s", expected_path, name, eva_dtype_name(nt->t.dtype), nt->t.ndim, line);
        if (!ok) { bad++; continue; }
        CHECK(eva_tensor_is_contiguous(&nt->t), "'%s' is not contiguous", name);
        double sum_exp, sum = 0;
        int nv;
        sscanf(line + pos, "%lf %d%n", &sum_exp, &nv, &used);
        pos += used;
        int64_t numel = eva_tensor_numel(&nt->t);
        double mag = 0;
        for (int64_t i = 0; i < numel; i++) { sum += elem(&nt->t, i); mag += fabs(elem(&nt->t, i)); }
        CHECK(fabs(sum - sum_exp) <= 1e-9 * (mag + 1), "'%s' sum %.17g, expected %.17g", name, sum, sum_exp);
        for (int v = 0; v < nv; v++) {
            double x;
            sscanf(line + pos, "%lf%n", &x, &used);
            pos += used;
            int64_t at = (nv == 4 && v == 3) ? numel - 1 : v;   /* first 3 values + the last */
            CHECK(elem(&nt->t, at) == x, "'%s'[%lld] = %.17g, expected %.17g", name, (long long)at, elem(&nt->t, at), x);
        }
    }
    fclose(f);
    CHECK(idx == map->count, "%s: %d tensors expected, reader gave %d", expected_path, idx, map->count);
    printf("  %-40s %d tensors %s\n", expected_path, map->count, bad ? "MISMATCH" : "ok");
}

static const eva_named_tensor *get(const eva_tensor_map *m, const char *name) {
    const eva_named_tensor *t = eva_tensor_map_find(m, name);
    CHECK(t != NULL, "no tensor '%s' in %s", name, m->source);
    return t;
}

static bool in_file(const eva_tensor_map *m, const void *p) {
    return (const uint8_t *)p >= m->file.data && (const uint8_t *)p < m->file.data + m->file.size;
}

static void test_golden(void) {
    eva_tensor_map m;
    eva_pt_info info;
    CHECK_OK(eva_pt_read(DIR "tiny_mim_deepspeed_fp16.pt", &m, &info));
    check_expected(&m, DIR "tiny_mim_deepspeed_fp16.expected");
    CHECK(!info.bare, "deepspeed file is not bare");
    const eva_named_tensor *t = get(&m, "module.blocks.2.mlp.fc1.weight");
    if (t) {
        CHECK(t->t.dtype == EVA_F16 && t->t.shape[0] == 832 && t->t.shape[1] == 192, "fc1 shape");
        CHECK(in_file(&m, t->t.data), "stored fp16 tensor should be a zero-copy view");
    }
    bool saw_module = false, saw_set = false, saw_none = false;
    for (int i = 0; i < info.n_entries; i++) {
        const eva_pt_entry *e = &info.entries[i];
        if (!strcmp(e->key, "module")) saw_module = !strcmp(e->kind, "state_dict") && e->n_tensors == m.count;
        if (!strcmp(e->key, "sparse_tensor_module_names")) saw_set = !strcmp(e->kind, "set");
        if (!strcmp(e->key, "optimizer")) saw_none = !strcmp(e->kind, "None");
    }
    CHECK(saw_module && saw_set && saw_none, "info entries: module %d set %d None %d (n=%d)", saw_module, saw_set, saw_none, info.n_entries);
    const char *ep = eva_tensor_map_get_meta(&m, "pt.epoch"), *ver = eva_tensor_map_get_meta(&m, "pt.ds_version");
    CHECK(ep && !strcmp(ep, "149"), "pt.epoch = %s", ep ? ep : "(null)");
    CHECK(ver && !strcmp(ver, "0.7.5"), "pt.ds_version = %s", ver ? ver : "(null)");
    CHECK(!strcmp(eva_tensor_map_get_meta(&m, "format") ? eva_tensor_map_get_meta(&m, "format") : "", "pt"), "format meta");
    eva_tensor_map_free(&m);

    CHECK_OK(eva_pt_read(DIR "teacher_clip_tiny.pt", &m, &info));
    check_expected(&m, DIR "teacher_clip_tiny.expected");
    CHECK(info.bare, "teacher_clip_tiny.pt is a bare state dict");
    eva_tensor_map_free(&m);

    /* Through the generic opener too (content sniffing). */
    CHECK_OK(eva_tensor_map_open(DIR "teacher_clip_tiny.pt", &m));
    CHECK(m.count == 50, "teacher via eva_tensor_map_open: %d tensors", m.count);
    eva_tensor_map_free(&m);
}

static void test_odd(void) {
    const char *files[] = {"odd_p2", "odd_p4", "odd_p5", "odd_deflated", "odd_stem", "odd_zip64", "shared", "handmade_ok"};
    for (size_t i = 0; i < EVA_ARRAY_LEN(files); i++) {
        char p[256], e[256];
        snprintf(p, sizeof p, DIR "%s.pt", files[i]);
        snprintf(e, sizeof e, DIR "%s.expected", files[i]);
        eva_tensor_map m;
        eva_pt_info info;
        eva_status st = eva_pt_read(p, &m, &info);
        CHECK(st == EVA_OK, "%s: %s", p, eva_last_error());
        if (st) continue;
        if (strcmp(files[i], "handmade_ok") != 0) check_expected(&m, e);
        if (!strncmp(files[i], "odd", 3)) {
            /* Storage sharing: a contiguous view with an offset points into its base's bytes
             * (also for the deflated file: the storage is inflated once). */
            const eva_named_tensor *base = get(&m, "base"), *view = get(&m, "view_off"), *tr = get(&m, "transposed");
            const eva_named_tensor *s1 = get(&m, "nested.same"), *s2 = get(&m, "again");
            if (base && view) CHECK((const float *)view->t.data == (const float *)base->t.data + 16, "%s: view_off not a view of base", p);
            if (s1 && s2) CHECK(s1->t.data == s2->t.data, "%s: shared storage read twice", p);
            if (tr) CHECK(tr->t.data != base->t.data, "%s: transposed must be gathered", p);
            /* torch.save aligns stored entries: zero-copy. Deflated: inflated once. odd_stem was
             * re-zipped by python's zipfile without alignment: realigned once per storage. */
            bool zero_copy = !strcmp(files[i], "odd_p2") || !strcmp(files[i], "odd_p4") || !strcmp(files[i], "odd_p5");
            if (base) CHECK(in_file(&m, base->t.data) == zero_copy, "%s: zero-copy expectation for base", p);
            CHECK(info.bare, "%s: top level has tensors", p);
            const char *stem = eva_tensor_map_get_meta(&m, "pt.stem");
            if (!strcmp(files[i], "odd_stem")) CHECK(stem && !strcmp(stem, "my.model-v2 (copy)"), "stem = %s", stem ? stem : "(null)");
            const char *txt = eva_tensor_map_get_meta(&m, "pt.text"), *rate = eva_tensor_map_get_meta(&m, "pt.rate");
            CHECK(txt && !strcmp(txt, "hello") && rate && !strcmp(rate, "1.5"), "scalar metadata");
        }
        if (!strcmp(files[i], "shared")) {
            const eva_named_tensor *a = get(&m, "model.cls_token"), *b = get(&m, "model_ema.cls_token");
            const eva_named_tensor *h1 = get(&m, "model.head.weight"), *h2 = get(&m, "model_ema.head.weight");
            if (a && b) CHECK(a->t.data == b->t.data, "model/model_ema share the cls_token storage");
            if (h1 && h2) CHECK(h1->t.data != h2->t.data, "head weights differ");
            CHECK(!info.bare && info.n_entries == 3, "shared: info");
            CHECK(info.n_entries == 3 && !strcmp(info.entries[0].kind, "state_dict") && info.entries[0].n_tensors == 4 &&
                      !strcmp(info.entries[2].key, "epoch") && !strcmp(info.entries[2].kind, "int"),
                  "shared: entries");
        }
        if (!strcmp(files[i], "handmade_ok")) {
            const eva_named_tensor *w = get(&m, "w");
            if (w) {
                const float want[6] = {2, 3, 4, 5, 6, 7};
                CHECK(w->t.ndim == 2 && w->t.shape[0] == 2 && w->t.shape[1] == 3 && !memcmp(w->t.data, want, sizeof want), "handmade w");
            }
        }
        eva_tensor_map_free(&m);
    }
}

static void expect_fail(const char *file, eva_status want, const char *needle) {
    char p[256];
    snprintf(p, sizeof p, DIR "%s", file);
    eva_tensor_map m;
    eva_pt_info info;
    eva_status st = eva_pt_read(p, &m, &info);
    CHECK(st == want, "%s: got %s (%s), expected %s", file, eva_strerror(st), eva_last_error(), eva_strerror(want));
    if (needle) CHECK(strstr(eva_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", file, eva_last_error(), needle);
    CHECK(m.count == 0, "%s: map not empty after failure", file);
    printf("  %-32s -> %s: %s\n", file, eva_strerror(st), eva_last_error());
    eva_tensor_map_free(&m);
}

static void test_hostile_files(void) {
    expect_fail("evil_os_system.pt", EVA_ERR_SECURITY, "'os.system'");
    expect_fail("evil_posix_system.pt", EVA_ERR_SECURITY, "'posix.system'");
    expect_fail("evil_exec_stack_global.pt", EVA_ERR_SECURITY, "'builtins.exec'");
    expect_fail("evil_subprocess_memo.pt", EVA_ERR_SECURITY, "'subprocess.Popen'");
    expect_fail("evil_load_from_bytes.pt", EVA_ERR_SECURITY, "_load_from_bytes");
    expect_fail("evil_storage_short.pt", EVA_ERR_FORMAT, "storage '0'");
    expect_fail("evil_view_extent.pt", EVA_ERR_FORMAT, "outside its storage");
    expect_fail("evil_huge_numel.pt", EVA_ERR_FORMAT, NULL);
    expect_fail("evil_missing_storage.pt", EVA_ERR_FORMAT, "data/7");
    expect_fail("evil_overlap.pt", EVA_ERR_FORMAT, NULL);
    expect_fail("evil_outside.pt", EVA_ERR_FORMAT, "local header");
    expect_fail("evil_past_eof.pt", EVA_ERR_FORMAT, NULL);
    expect_fail("evil_bomb_small_decl.pt", EVA_ERR_FORMAT, "more than its declared");
    expect_fail("evil_bomb_huge_decl.pt", EVA_ERR_FORMAT, "zip bomb");
    expect_fail("legacy.pt", EVA_ERR_UNSUPPORTED, "torch>=1.6");
    expect_fail("does_not_exist.pt", EVA_ERR_IO, NULL);
}

/* ------------------------------------------------------------------ hand-made pickles */

static eva_status pk(const void *bytes, size_t n, eva_tensor_map *m) {
    uint8_t *copy = malloc(n ? n : 1);   /* exact-size copy: ASan sees any over-read */
    memcpy(copy, bytes, n);
    eva_status st = eva_pt_parse_pickle(copy, n, "test", m, NULL);
    free(copy);
    return st;
}
#define PK(lit, m) pk(lit, sizeof(lit) - 1, m)

static void expect_pickle(const void *b, size_t n, eva_status want, const char *what) {
    eva_tensor_map m;
    eva_status st = pk(b, n, &m);
    CHECK(st == want, "%s: got %s (%s), expected %s", what, eva_strerror(st), eva_last_error(), eva_strerror(want));
    eva_tensor_map_free(&m);
}
#define EXPECT_PK(lit, want) expect_pickle(lit, sizeof(lit) - 1, want, #lit)

#define TENSOR8 "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\0\0\0storagectorch\nFloatStorage\nX\x01\0\0\0" "0X\x03\0\0\0cpuK\x08tQ" \
                "K\x00K\x08\x85K\x01\x85\x89" "ccollections\nOrderedDict\n)RtR"

static void test_pickles(void) {
    eva_tensor_map m;
    /* a good one: {'w': float[8] on storage '0'} */
    CHECK_OK(PK("\x80\x02}X\x01\0\0\0w" TENSOR8 "s.", &m));
    CHECK(m.count == 1 && m.items[0].t.shape[0] == 8 && !strcmp(m.items[0].name, "w"), "pickle-only tensor");
    eva_tensor_map_free(&m);
    /* nested OrderedDict with _metadata BUILD, a Namespace, a set, bytes via _codecs */
    CHECK_OK(PK("\x80\x02}(X\x01\0\0\0a" "ccollections\nOrderedDict\n)R(X\x01\0\0\0w" TENSOR8 "u}X\x01\0\0\0kK\x01sb"
                "X\x02\0\0\0nscargparse\nNamespace\n)\x81}X\x02\0\0\0lrG?\xb9\x99\x99\x99\x99\x99\x9asb"
                "X\x01\0\0\0sc__builtin__\nset\n]K\x01" "a\x85R"
                "X\x01\0\0\0bc_codecs\nencode\nX\x04\0\0\0\xc3\xbf" "abX\x06\0\0\0latin1\x86R" "u.", &m));
    CHECK(m.count == 1 && !strcmp(m.items[0].name, "a.w"), "nested name %s", m.count ? m.items[0].name : "");
    eva_tensor_map_free(&m);
    /* forbidden */
    EXPECT_PK("\x80\x02" "cos\nsystem\nX\x02\0\0\0ls\x85R.", EVA_ERR_SECURITY);
    EXPECT_PK("\x80\x02" "cbuiltins\neval\n.", EVA_ERR_SECURITY);
    EXPECT_PK("\x80\x04\x8c\x02os\x8c\x06system\x93.", EVA_ERR_SECURITY);
    EXPECT_PK("\x80\x02" "c__builtin__\ngetattr\n.", EVA_ERR_SECURITY);
    EXPECT_PK("\x80\x02" "ctorch\nload\n.", EVA_ERR_SECURITY);
    EXPECT_PK("\x80\x02" "i__main__\nX\n.", EVA_ERR_SECURITY);            /* INST */
    EXPECT_PK("\x80\x02\x82\x01.", EVA_ERR_SECURITY);                       /* EXT1 */
    /* REDUCE on something that is not an allow-listed callable */
    EXPECT_PK("\x80\x02X\x01\0\0\0a)R.", EVA_ERR_FORMAT);
    EXPECT_PK("\x80\x02" "ctorch\nFloatStorage\n)R.", EVA_ERR_FORMAT);
    EXPECT_PK("\x80\x04\x8c\x02os\x4b\x01\x93.", EVA_ERR_FORMAT);            /* STACK_GLOBAL with an int */
    /* memo */
    EXPECT_PK("\x80\x02h\x05.", EVA_ERR_FORMAT);
    EXPECT_PK("\x80\x02j\xff\xff\xff\xff.", EVA_ERR_FORMAT);
    EXPECT_PK("\x80\x02Nr\xf0\xff\xff\xff.", EVA_ERR_FORMAT);
    EXPECT_PK("\x80\x02q\x00.", EVA_ERR_FORMAT);                             /* PUT with empty stack */
    /* stack underflow / marks */
    EXPECT_PK("\x80\x02" "a.", EVA_ERR_FORMAT);
    EXPECT_PK("\x80\x02" "R.", EVA_ERR_FORMAT);
    EXPECT_PK("\x80\x02" "t.", EVA_ERR_FORMAT);
    EXPECT_PK("\x80\x02(s.", EVA_ERR_FORMAT);
    EXPECT_PK("\x80\x02" "}(K\x01u.", EVA_ERR_FORMAT);                       /* odd SETITEMS */
    EXPECT_PK("\x80\x02" ".", EVA_ERR_FORMAT);
    EXPECT_PK("", EVA_ERR_FORMAT);
    EXPECT_PK("\x80\x02}", EVA_ERR_FORMAT);                                   /* no STOP */
    /* strings longer than the data */
    EXPECT_PK("\x80\x02X\xff\xff\xff\x7f" "abc.", EVA_ERR_FORMAT);
    EXPECT_PK("\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff" "abc.", EVA_ERR_FORMAT);
    EXPECT_PK("\x80\x02T\xff\xff\xff\xff" "abc.", EVA_ERR_FORMAT);
    EXPECT_PK("\x80\x02\x8b\xff\xff\xff\x7f" ".", EVA_ERR_FORMAT);
    EXPECT_PK("\x80\x02\x8a\x0a\x01\x02.", EVA_ERR_FORMAT);
    /* unsupported protocol / opcode */
    EXPECT_PK("\x80\x07N.", EVA_ERR_UNSUPPORTED);
    EXPECT_PK("\x80\x02\xff.", EVA_ERR_FORMAT);
    /* tensors lying about their storage */
    EXPECT_PK("\x80\x02}X\x01\0\0\0wctorch._utils\n_rebuild_tensor_v2\n((X\x07\0\0\0storagectorch\nFloatStorage\nX\x01\0\0\0"
              "0X\x03\0\0\0cpuK\x08tQK\x05K\x08\x85K\x01\x85\x89)tRs.", EVA_ERR_FORMAT);   /* offset 5 + 8 > 8 */
    EXPECT_PK("\x80\x02}X\x01\0\0\0wctorch._utils\n_rebuild_tensor_v2\n((X\x07\0\0\0storagectorch\nFloatStorage\nX\x01\0\0\0"
              "0X\x03\0\0\0cpuJ\xff\xff\xff\x7ftQK\x00J\xff\xff\xff\x7f\x85K\x01\x85\x89)tRs.", EVA_ERR_FORMAT);   /* 8 GB zeros */
    EXPECT_PK("\x80\x02}X\x01\0\0\0wctorch._utils\n_rebuild_tensor_v2\n((X\x07\0\0\0storagectorch\nComplexFloatStorage\nX\x01\0\0\0"
              "0X\x03\0\0\0cpuK\x08tQK\x00K\x08\x85K\x01\x85\x89)tRs.", EVA_ERR_UNSUPPORTED);
    EXPECT_PK("\x80\x02}X\x01\0\0\0wctorch._utils\n_rebuild_tensor_v2\n((X\x07\0\0\0storagectorch\nFloatStorage\nX\x01\0\0\0"
              "0X\x03\0\0\0cpuK\x08tQK\x00(K\x01K\x01K\x01K\x01K\x01K\x01K\x01K\x01K\x01t(K\x01K\x01K\x01K\x01K\x01K\x01K\x01K\x01K\x01t\x89)tRs.",
              EVA_ERR_UNSUPPORTED);   /* 9 dims */

    /* deep nesting: 100k MARKs; 100k nested lists; a list containing itself; a 2^60-path DAG */
    size_t n = 100000;
    uint8_t *b = malloc(3 * n + 16);
    size_t k = 0;
    b[k++] = 0x80; b[k++] = 2;
    for (size_t i = 0; i < n; i++) b[k++] = '(';
    b[k++] = 'N'; b[k++] = '.';
    expect_pickle(b, k, EVA_ERR_FORMAT, "100k MARKs");
    k = 2;
    for (size_t i = 0; i < n; i++) b[k++] = ']';
    for (size_t i = 0; i + 1 < n; i++) b[k++] = 'a';
    b[k++] = '.';
    expect_pickle(b, k, EVA_ERR_FORMAT, "100k nested lists");
    expect_pickle("\x80\x02]q\x00h\x00a.", 7, EVA_ERR_FORMAT, "self-containing list");
    k = 2;
    b[k++] = ']';   /* l0 */
    for (int i = 0; i < 60; i++) { b[k++] = '2'; b[k++] = 0x86; }   /* DUP, TUPLE2: (l, l) */
    b[k++] = '.';
    expect_pickle(b, k, EVA_ERR_FORMAT, "exponential DAG");
    free(b);
}

/* ------------------------------------------------------------------ truncation and corruption */

static void truncate_and_flip(const char *file, size_t step, bool flips) {
    size_t n;
    uint8_t *full = slurp(file, &n);
    CHECK(full != NULL, "cannot read %s", file);
    if (!full) return;
    int ok = 0, err = 0;
    for (size_t cut = 0; cut < n; cut += (n - cut > 8192 ? step : 1)) {
        uint8_t *b = malloc(cut ? cut : 1);
        memcpy(b, full, cut);
        eva_tensor_map m;
        eva_status st = eva_pt_parse(b, cut, "trunc", &m, NULL);
        if (st == EVA_OK) ok++;
        else err++;
        /* touch every tensor byte: views must stay inside the buffer */
        for (int i = 0; i < m.count; i++) {
            volatile uint8_t s = 0;
            for (size_t j = 0; j < m.items[i].nbytes; j++) s ^= ((const uint8_t *)m.items[i].t.data)[j];
            (void)s;
        }
        eva_tensor_map_free(&m);
        free(b);
    }
    CHECK(ok == 0, "%s: a truncated file loaded (%d times)", file, ok);
    int flip_ok = 0, flip_err = 0;
    if (flips) {
        uint8_t *b = malloc(n);
        for (size_t i = 0; i < n; i++) {
            memcpy(b, full, n);
            b[i] ^= (uint8_t)(0x5A + i);
            eva_tensor_map m;
            eva_status st = eva_pt_parse(b, n, "flip", &m, NULL);
            if (st == EVA_OK) flip_ok++;
            else flip_err++;
            for (int t = 0; t < m.count; t++) {
                volatile uint8_t s = 0;
                for (size_t j = 0; j < m.items[t].nbytes; j++) s ^= ((const uint8_t *)m.items[t].t.data)[j];
                (void)s;
            }
            eva_tensor_map_free(&m);
        }
        free(b);
    }
    printf("  %-40s truncations: %d rejected; byte flips: %d loaded, %d rejected\n", file, err, flip_ok, flip_err);
    free(full);
}

int main(void) {
    printf("golden checkpoints:\n");
    test_golden();
    printf("odd layouts:\n");
    test_odd();
    printf("hostile files:\n");
    test_hostile_files();
    test_pickles();
    printf("truncation / corruption:\n");
    truncate_and_flip(DIR "odd_p2.pt", 1, true);
    truncate_and_flip(DIR "odd_p4.pt", 1, true);
    truncate_and_flip(DIR "odd_deflated.pt", 1, true);
    truncate_and_flip(DIR "shared.pt", 1, true);
    truncate_and_flip(DIR "odd_zip64.pt", 1, true);
    truncate_and_flip(DIR "tiny_mim_deepspeed_fp16.pt", 9973, false);
    return test_finish("test_pt");
}
