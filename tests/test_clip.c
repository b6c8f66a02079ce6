/* test_clip.c — EVA-CLIP: golden tiny model (README-train-clip §3) through the public C API in
 * the three checkpoint layouts, the causal attention kernel against its reference, the
 * truncated (positions 0..EOT) text pass against the full-context one, zero-shot weights, and
 * bad inputs. `test_clip --fixtures` only writes the model files cli_clip.sh uses into $EVA_TMP.
 *
 * The golden file does not store text.token_embedding.weight (49408 x 128): it is generated with
 * the exact integer formula of §3.4 and merged in with the public writer. */
#include "test_util.h"

#include "models/clip.h"
#include "ops/attention_causal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>

#define IO "data/clip/eva_clip_io.safetensors"
#define WEIGHTS "data/clip/eva_clip_tiny_openclip_f16.safetensors"
#define JSON "data/clip/eva_clip.json"

static const char *g_layouts[3] = {"open_clip", "eva01_clip", "eva_clip_rei"};
static char g_paths[3][512], g_vision_only[512];

/* §3.4 generator: ints i_k in [-1024, 1023], value i_k * 2^-15 (exact in F16). */
static int16_t *token_embedding_ints(int64_t n, uint64_t *fnv_out) {
    const char *tag = "evaclip-golden-public:text.token_embedding.weight";
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = tag; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
    *fnv_out = h;
    int16_t *v = malloc(sizeof(int16_t) * (size_t)n);
    uint64_t state = h;
    for (int64_t k = 0; v && k < n; k++) {
        state += 0x9E3779B97F4A7C15ULL;
        uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        v[k] = (int16_t)((int64_t)(z >> 53) - 1024);
    }
    return v;
}

static cJSON *read_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    fclose(f);
    s[got] = 0;
    cJSON *j = cJSON_Parse(s);
    free(s);
    return j;
}

/* Write the three layouts (+ a vision-only file) into $EVA_TMP/clip_*.safetensors. */
static int make_fixtures(void) {
    const int64_t V = 49408, W = 128, n = V * W;
    uint64_t fnv;
    int16_t *ints = token_embedding_ints(n, &fnv);
    CHECK(ints != NULL, "alloc");
    if (!ints) return 1;
    CHECK(fnv == 0x48a10388de855655ULL, "FNV of the tag %llx", (unsigned long long)fnv);
    static const int first[8] = {938, 616, 836, 248, 787, 807, 758, 499};
    for (int i = 0; i < 8; i++) CHECK(ints[i] == first[i], "i_%d = %d want %d", i, ints[i], first[i]);
    int64_t sum = 0, sum2 = 0;
    for (int64_t k = 0; k < n; k++) sum += ints[k], sum2 += (int64_t)ints[k] * ints[k];
    CHECK(sum == -3911834 && sum2 == 2209065580634LL, "sums %lld %lld", (long long)sum, (long long)sum2);
    CHECK(ints[49407 * 128] == 645 && ints[49407 * 128 + 3] == 825, "EOT row");
    uint16_t *half = malloc(sizeof(uint16_t) * (size_t)n);
    for (int64_t k = 0; k < n; k++) half[k] = eva_f32_to_f16((float)ints[k] * (1.0f / 32768.0f));
    free(ints);
    cJSON *js = read_json(JSON);
    CHECK(js != NULL, "cannot parse %s", JSON);
    cJSON *lay = cJSON_GetObjectItem(js, "layouts");
    eva_tensor_file *src;
    CHECK_OK(eva_tensor_file_open(WEIGHTS, &src));
    int rc = 0;
    for (int l = 0; l < 4 && g_test_failures == 0; l++) {
        eva_tensor_writer *w;
        eva_tensor_writer_create(&w);
        for (int i = 0; i < eva_tensor_file_count(src); i++) {
            eva_tensor_view v;
            eva_tensor_file_get(src, i, &v);
            const char *name = v.name;
            if (l == 3 && strncmp(name, "visual.", 7) != 0) continue;   /* vision-only file */
            if (l == 1 || l == 2) {
                cJSON *e = cJSON_GetObjectItem(lay, name);
                cJSON *to = e ? cJSON_GetObjectItem(e, g_layouts[l]) : NULL;
                CHECK(cJSON_IsString(to), "no %s name for %s", g_layouts[l], name);
                if (cJSON_IsString(to)) name = to->valuestring;
            }
            CHECK_OK(eva_tensor_writer_add_view(w, name, v.dtype, v.ndim, v.shape, v.data));
        }
        if (l < 3) {
            int64_t shape[2] = {V, W};
            CHECK_OK(eva_tensor_writer_add_view(w, "text.token_embedding.weight", EVA_F16, 2, shape, half));
        }
        char *path = l < 3 ? g_paths[l] : g_vision_only;
        snprintf(path, 512, "%s/clip_%s.safetensors", test_tmp_dir(), l < 3 ? g_layouts[l] : "vision_only");
        CHECK_OK(eva_tensor_writer_save(w, path));
        eva_tensor_writer_free(w);
    }
    eva_tensor_file_close(src);
    cJSON_Delete(js);
    free(half);
    return rc;
}

static float *rd(eva_tensor_file *f, const char *name, size_t *n) { return test_read_tensor(f, name, n); }

static void golden_layout(int l, float *keep_img, float *keep_txt) {
    eva_clip *c;
    eva_clip_params p = eva_clip_default_params();
    p.n_threads = 2;
    CHECK_OK(eva_clip_load(g_paths[l], &p, &c));
    if (!c) return;
    eva_clip_info ci;
    CHECK_OK(eva_clip_get_info(c, &ci));
    static const char *want_layout[3] = {"open_clip", "eva01", "eva_clip"};
    CHECK(strcmp(ci.layout, want_layout[l]) == 0, "layout %s", ci.layout);
    CHECK(ci.embed_dim == 64 && ci.text_width == 128 && ci.text_layers == 2 && ci.text_heads == 2 && ci.img_size == 56 &&
              ci.context_length == 77 && ci.has_vision && ci.n_params == 7810827,
          "info E %d W %d L %d H %d S %d params %lld", ci.embed_dim, ci.text_width, ci.text_layers, ci.text_heads,
          ci.img_size, (long long)ci.n_params);
    CHECK(ci.logit_scale == 2.66015625f && fabs(ci.logit_scale_exp - 14.298523068373607) < 1e-5, "logit scale %g",
          ci.logit_scale);
    eva_tensor_file *io;
    CHECK_OK(eva_tensor_file_open(IO, &io));
    size_t n;
    float *images = rd(io, "input.images", &n);
    eva_tensor_view idv;
    CHECK_OK(eva_tensor_file_find(io, "input.text_ids", &idv));
    const int32_t *ids = idv.data;
    float img_raw[3 * 64], img[3 * 64], txt_raw[5 * 64], txt[5 * 64];
    CHECK_OK(eva_clip_encode_images(c, images, 3, 0, img_raw, img));
    CHECK_OK(eva_clip_encode_token_ids(c, ids, 5, 77, txt_raw, txt));
    float *r;
    char nm[64];
    const char *names[4] = {"output.image_features_raw", "output.image_features", "output.text_features_raw",
                            "output.text_features"};
    float *got[4] = {img_raw, img, txt_raw, txt};
    for (int k = 0; k < 4; k++) {
        r = rd(io, names[k], &n);
        snprintf(nm, sizeof nm, "%s %s", g_layouts[l], names[k] + 7);
        if (r) test_compare(nm, got[k], r, n, 1e-5);
        free(r);
    }
    /* logits = exp(logit_scale) * img @ txt^T, |diff| <= 1e-4 */
    r = rd(io, "output.logits_per_image", &n);
    double worst = 0;
    for (int i = 0; r && i < 3; i++)
        for (int j = 0; j < 5; j++) {
            double s = 0;
            for (int d = 0; d < 64; d++) s += (double)img[i * 64 + d] * txt[j * 64 + d];
            worst = fmax(worst, fabs(ci.logit_scale_exp * s - r[i * 5 + j]));
        }
    CHECK(worst <= 1e-4, "%s logits max|diff| %g", g_layouts[l], worst);
    printf("logits %s max|diff| %.3e\n", g_layouts[l], worst);
    free(r);
    if (l == 0) {
        memcpy(keep_img, img, sizeof img);
        memcpy(keep_txt, txt, sizeof txt);
        /* full context: tokens after ln_final (positions 0..23 stored), pooled rows */
        float *tokens = malloc(sizeof(float) * 5 * 77 * 128), full_raw[5 * 64];
        CHECK_OK(eva_clip_encode_ids_ex(c, ids, 5, 77, true, full_raw, tokens));
        float *ref = rd(io, "debug.text_tokens_ln_final", &n);
        float *mine = malloc(sizeof(float) * 5 * 24 * 128);
        for (int s = 0; s < 5; s++) memcpy(mine + s * 24 * 128, tokens + s * 77 * 128, sizeof(float) * 24 * 128);
        if (ref) test_compare("text_tokens_ln_final", mine, ref, n, 1e-5);
        free(ref);
        ref = rd(io, "debug.text_pooled", &n);
        static const int eot[5] = {6, 8, 8, 17, 10};
        for (int s = 0; s < 5; s++) memcpy(mine + s * 128, tokens + (s * 77 + eot[s]) * 128, sizeof(float) * 128);
        if (ref) test_compare("text_pooled", mine, ref, n, 1e-5);
        free(ref);
        /* truncated pass (0..EOT only) == full pass */
        test_compare("truncated vs full text", txt_raw, full_raw, 5 * 64, 1e-6);
        free(mine);
        free(tokens);
        /* strings through the tokenizer give the same features */
        static const char *texts[5] = {"a photo of a cat", "a diagram of a Transformer encoder",
                                       "two dogs playing in the snow.", "EVA-CLIP: zero-shot 78.5% top-1!",
                                       "a caf\xc3\xa9 in Z\xc3\xbcrich at night \xf0\x9f\x8c\x99"};
        float st[5 * 64];
        CHECK_OK(eva_clip_encode_texts(c, texts, 5, NULL, st));
        test_compare("texts via tokenizer", st, txt, 5 * 64, 1e-6);
        /* image pooled rows */
        ref = rd(io, "debug.visual_pooled", &n);
        free(ref);
    } else {
        CHECK(memcmp(keep_img, img, sizeof img) == 0, "%s image features differ from open_clip layout", g_layouts[l]);
        CHECK(memcmp(keep_txt, txt, sizeof txt) == 0, "%s text features differ from open_clip layout", g_layouts[l]);
    }
    free(images);
    eva_tensor_file_close(io);
    eva_clip_free(c);
}

static void reference_path(void) {
    setenv("EVA_REFERENCE", "1", 1);
    eva_clip *c;
    CHECK_OK(eva_clip_load(g_paths[0], NULL, &c));
    unsetenv("EVA_REFERENCE");
    if (!c) return;
    eva_tensor_file *io;
    CHECK_OK(eva_tensor_file_open(IO, &io));
    eva_tensor_view idv;
    size_t n;
    CHECK_OK(eva_tensor_file_find(io, "input.text_ids", &idv));
    float raw[5 * 64];
    CHECK_OK(eva_clip_encode_token_ids(c, idv.data, 5, 77, raw, NULL));
    float *ref = rd(io, "output.text_features_raw", &n);
    if (ref) test_compare("reference kernels text raw", raw, ref, n, 1e-5);
    free(ref);
    eva_tensor_file_close(io);
    eva_clip_free(c);
}

static void causal_kernel(void) {
    /* ragged batch: lengths 1, 7, 77, 20; D 128, H 2 */
    int off[5] = {0, 1, 8, 85, 105}, D = 128, H = 2, R = 105;
    float *qkv = malloc(sizeof(float) * R * 3 * D), *a = malloc(sizeof(float) * R * D), *b = malloc(sizeof(float) * R * D);
    eva_rng rng = eva_rng_make(5, 0);
    for (int i = 0; i < R * 3 * D; i++) qkv[i] = (float)eva_rng_normal(&rng);
    CHECK(eva_attention_causal_ref(qkv, a, off, 4, D, H), "ref");
    eva_pool *pool;
    CHECK_OK(eva_pool_create(2, &pool));
    eva_attention_causal(pool, qkv, b, off, 4, D, H);
    test_compare("causal attention fast vs ref", b, a, (size_t)R * D, 1e-6);
    /* row 0 of each sequence attends only to itself: out = v */
    for (int s = 0; s < 4; s++)
        CHECK(memcmp(a + (size_t)off[s] * D, qkv + (size_t)off[s] * 3 * D + 2 * D, sizeof(float) * D) == 0,
              "seq %d first row != v", s);
    /* causality: changing the last row of sequence 2 changes nothing before it */
    qkv[(size_t)84 * 3 * D + D] += 5.0f;
    eva_attention_causal(pool, qkv, b, off, 4, D, H);
    CHECK(memcmp(a, b, sizeof(float) * 84 * D) == 0, "future key changed earlier rows");
    eva_pool_free(pool);
    free(qkv), free(a), free(b);
}

static void bad_inputs(void) {
    eva_clip *c;
    CHECK_OK(eva_clip_load(g_paths[0], NULL, &c));
    if (!c) return;
    float e[3 * 64];
    char *big = malloc(100 * 1024 + 1);
    for (int i = 0; i < 100 * 1024; i++) big[i] = "abc def "[i % 8];
    big[100 * 1024] = 0;
    const char *texts[3] = {"", big, "bad \xff\xfe utf8 \xc3"};
    CHECK_OK(eva_clip_encode_texts(c, texts, 3, NULL, e));
    for (int i = 0; i < 3; i++) {
        double s = 0;
        for (int d = 0; d < 64; d++) s += (double)e[i * 64 + d] * e[i * 64 + d];
        CHECK(fabs(s - 1) < 1e-5, "text %d norm^2 %g", i, s);
    }
    free(big);
    int32_t ids[77] = {49406, 320, 49408};
    CHECK(eva_clip_encode_token_ids(c, ids, 1, 77, NULL, e) == EVA_ERR_INVALID_ARG, "id 49408 accepted");
    ids[2] = -1;
    CHECK(eva_clip_encode_token_ids(c, ids, 1, 77, NULL, e) == EVA_ERR_INVALID_ARG, "id -1 accepted");
    CHECK(eva_clip_encode_token_ids(c, ids, 1, 78, NULL, e) == EVA_ERR_SHAPE, "context 78 accepted");
    CHECK(eva_clip_encode_texts(c, NULL, 1, NULL, e) == EVA_ERR_INVALID_ARG, "NULL texts");
    /* zero-shot weights = normalised mean of normalised template embeddings */
    const char *cls[2] = {"cat", "dog"}, *tpl[2] = {"a photo of a {}.", "{} {}!"};
    float w[2 * 64], t4[4 * 64];
    CHECK_OK(eva_clip_zeroshot_weights(c, cls, 2, tpl, 2, w, NULL, NULL));
    const char *manual[4] = {"a photo of a cat.", "cat cat!", "a photo of a dog.", "dog dog!"};
    CHECK_OK(eva_clip_encode_texts(c, manual, 4, NULL, t4));
    float m[2 * 64];
    for (int k = 0; k < 2; k++)
        for (int d = 0; d < 64; d++) m[k * 64 + d] = (t4[(2 * k) * 64 + d] + t4[(2 * k + 1) * 64 + d]) / 2;
    eva_clip_normalize_rows(m, 2, 64);
    test_compare("zeroshot weights", w, m, 128, 1e-6);
    float lg[2], pr[2];
    CHECK_OK(eva_clip_zeroshot_logits(c, m, 1, w, 2, 100.0f, lg, pr));
    CHECK(fabsf(lg[0] - 100.0f) < 1e-3 && pr[0] > pr[1] && fabsf(pr[0] + pr[1] - 1) < 1e-6, "logits %g %g", lg[0], lg[1]);
    eva_clip_free(c);
    /* the stored golden file lacks the token embedding; a vision-only file has no text tower */
    CHECK(eva_clip_load(WEIGHTS, NULL, &c) == EVA_ERR_MISSING && strstr(eva_last_error(), "token_embedding"), "%s",
          eva_last_error());
    CHECK(eva_clip_load(g_vision_only, NULL, &c) == EVA_ERR_MISSING && strstr(eva_last_error(), "vision-only"), "%s",
          eva_last_error());
    CHECK(eva_clip_load("data/clip/does_not_exist.safetensors", NULL, &c) != EVA_OK && c == NULL, "missing file");
    /* tables */
    CHECK(eva_imagenet_class_name(0) && !strcmp(eva_imagenet_class_name(0), "tench"), "class 0");
    CHECK(eva_imagenet_class_name(999) && !strcmp(eva_imagenet_class_name(999), "toilet paper"), "class 999");
    CHECK(eva_imagenet_class_name(1000) == NULL && eva_imagenet_class_name(-1) == NULL, "class range");
    CHECK(eva_imagenet_template(79) && !strcmp(eva_imagenet_template(79), "a tattoo of the {}."), "template 79");
    CHECK(eva_imagenet_template(80) == NULL, "template range");
}

/* `eva clip` on the golden inputs: the same tolerances as the API. */
static void cli_golden(void) {
    const char *bin = getenv("EVA_BIN");
    if (!bin) {
        printf("EVA_BIN not set: skipping the CLI check\n");
        return;
    }
    char out[600], cmdline[2048];
    snprintf(out, sizeof out, "%s/clip_cli_out.safetensors", test_tmp_dir());
    remove(out);
    snprintf(cmdline, sizeof cmdline, "'%s' clip --model '%s' --input %s -o '%s' -t 2", bin, g_paths[1], IO, out);
    CHECK(system(cmdline) == 0, "%s", cmdline);
    eva_tensor_file *o, *io;
    CHECK_OK(eva_tensor_file_open(out, &o));
    CHECK_OK(eva_tensor_file_open(IO, &io));
    if (!o || !io) return;
    const char *names[6] = {"output.image_features_raw", "output.image_features", "output.text_features_raw",
                            "output.text_features", "output.logits_per_image", "output.logits_per_text"};
    for (int k = 0; k < 6; k++) {
        size_t n1 = 0, n2 = 0;
        float *a = rd(o, names[k], &n1), *b = rd(io, names[k], &n2);
        char nm[80];
        snprintf(nm, sizeof nm, "cli %s", names[k] + 7);
        CHECK(a && b && n1 == n2, "%s size", names[k]);
        if (a && b && n1 == n2) {
            if (k < 4) test_compare(nm, a, b, n1, 1e-5);
            else {
                double w = 0;
                for (size_t i = 0; i < n1; i++) w = fmax(w, fabs((double)a[i] - b[i]));
                CHECK(w <= 1e-4, "%s max|diff| %g", nm, w);
                printf("%s max|diff| %.3e\n", nm, w);
            }
        }
        free(a), free(b);
    }
    size_t n;
    float *ls = rd(o, "output.logit_scale_exp", &n);
    CHECK(ls && n == 1 && fabs(*ls - 14.298523068373607) < 1e-5, "logit_scale_exp");
    free(ls);
    eva_tensor_file_close(o);
    /* text side only, ids as I64 (open_clip's dtype): text outputs, no image outputs or logits */
    eva_tensor_view idv;
    CHECK_OK(eva_tensor_file_find(io, "input.text_ids", &idv));
    int64_t ids64[5 * 77], shape[2] = {5, 77};
    for (int i = 0; i < 5 * 77; i++) ids64[i] = ((const int32_t *)idv.data)[i];
    char in64[600];
    snprintf(in64, sizeof in64, "%s/clip_ids_i64.safetensors", test_tmp_dir());
    eva_tensor_writer *w;
    CHECK_OK(eva_tensor_writer_create(&w));
    CHECK_OK(eva_tensor_writer_add(w, "input.text_ids", EVA_I64, 2, shape, ids64));
    CHECK_OK(eva_tensor_writer_save(w, in64));
    eva_tensor_writer_free(w);
    snprintf(cmdline, sizeof cmdline, "'%s' clip --model '%s' --input '%s' -o '%s' -t 2", bin, g_paths[2], in64, out);
    CHECK(system(cmdline) == 0, "%s", cmdline);
    CHECK_OK(eva_tensor_file_open(out, &o));
    if (o) {
        eva_tensor_view v;
        CHECK(eva_tensor_file_find(o, "output.image_features", &v) != EVA_OK, "image features without images");
        CHECK(eva_tensor_file_find(o, "output.logits_per_image", &v) != EVA_OK, "logits without images");
        size_t n1 = 0, n2 = 0;
        float *a = rd(o, "output.text_features", &n1), *b = rd(io, "output.text_features", &n2);
        if (a && b && n1 == n2) test_compare("cli I64 ids text_features", a, b, n1, 1e-5);
        free(a), free(b);
        eva_tensor_file_close(o);
    }
    eva_tensor_file_close(io);
}

int main(int argc, char **argv) {
    make_fixtures();
    if (argc > 1 && !strcmp(argv[1], "--fixtures")) return test_finish("test_clip --fixtures");
    if (g_test_failures) return test_finish("test_clip");
    float img[3 * 64], txt[5 * 64];
    for (int l = 0; l < 3; l++) golden_layout(l, img, txt);
    reference_path();
    causal_kernel();
    bad_inputs();
    cli_golden();
    return test_finish("test_clip");
}
