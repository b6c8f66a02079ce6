/* test_tokenizer.c — the CLIP BPE tokenizer against tests/data/tokenizer/tokenizer_cases.json
 * (40 cases produced by open_clip's SimpleTokenizer with ftfy 6.3.1, Python 3.11): every stage
 * the file records (after_ftfy, after_basic_clean, cleaned, words, bpe symbols, ids, the 77
 * context ids) must match exactly. Plus bad input (empty, 100 kB, invalid UTF-8), argument
 * checks, the O(n log n) BPE path against the reference loop, first use from several threads,
 * and a throughput figure. */
#include "test_util.h"
#include "text/tokenizer.h"

#include <cjson/cJSON.h>
#include <pthread.h>

size_t eva_bpe_merge_heap(int32_t *s, size_t n);
size_t eva_bpe_merge_simple(int32_t *s, size_t n);

/* Cases known to differ from the golden file, with the reason (none at present). */
static const int k_known_divergent[] = {-1};

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    if (buf) { buf[n] = 0; *len = (size_t)n; }
    return buf;
}

static char *cps_to_utf8(const uint32_t *v, size_t n) {
    char *s = malloc(n * 4 + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += (size_t)eva_utf8_put(v[i], (uint8_t *)s + k);
    s[k] = 0;
    return s;
}

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

static bool ids_equal(const cJSON *arr, const int32_t *ids, int n) {
    if (cJSON_GetArraySize(arr) != n) return false;
    for (int i = 0; i < n; i++)
        if (cJSON_GetArrayItem(arr, i)->valueint != ids[i]) return false;
    return true;
}

/* Returns 1 when every stage of the case matches. */
static int check_case(int idx, const cJSON *c) {
    int fails0 = g_test_failures;
    const char *hex = cJSON_GetObjectItem(c, "utf8_hex")->valuestring;
    size_t len = strlen(hex) / 2;
    char *text = malloc(len + 1);
    for (size_t i = 0; i < len; i++) text[i] = (char)(hexval(hex[2 * i]) * 16 + hexval(hex[2 * i + 1]));
    text[len] = 0;

    eva_cpbuf raw = {0}, ft = {0}, basic = {0}, clean = {0};
    CHECK(eva_utf8_decode((const uint8_t *)text, len, &raw, false), "decode");
    CHECK_OK(eva_text_ftfy(raw.v, raw.n, &ft));
    char *s = cps_to_utf8(ft.v, ft.n);
    const char *want = cJSON_GetObjectItem(c, "after_ftfy")->valuestring;
    CHECK(strcmp(s, want) == 0, "case %d after_ftfy: got '%s' want '%s'", idx, s, want);
    free(s);
    CHECK_OK(eva_text_basic_clean(raw.v, raw.n, &basic));
    s = cps_to_utf8(basic.v, basic.n);
    want = cJSON_GetObjectItem(c, "after_basic_clean")->valuestring;
    CHECK(strcmp(s, want) == 0, "case %d after_basic_clean: got '%s' want '%s'", idx, s, want);
    free(s);
    CHECK_OK(eva_text_whitespace_lower(basic.v, basic.n, &clean));
    s = cps_to_utf8(clean.v, clean.n);
    want = cJSON_GetObjectItem(c, "cleaned")->valuestring;
    CHECK(strcmp(s, want) == 0, "case %d cleaned: got '%s' want '%s'", idx, s, want);
    free(s);

    /* words and their BPE symbols */
    const cJSON *words = cJSON_GetObjectItem(c, "words"), *pieces = cJSON_GetObjectItem(c, "pieces");
    size_t pos = 0, a, b;
    int w = 0;
    while (eva_text_next_piece(clean.v, clean.n, &pos, &a, &b)) {
        char *word = cps_to_utf8(clean.v + a, b - a);
        const cJSON *ww = cJSON_GetArrayItem(words, w);
        CHECK(ww && strcmp(ww->valuestring, word) == 0, "case %d word %d: got '%s' want '%s'", idx, w, word,
              ww ? ww->valuestring : "(none)");
        const cJSON *bpe = ww ? cJSON_GetObjectItem(cJSON_GetArrayItem(pieces, w), "bpe") : NULL;
        int32_t ids[256];
        int n = eva_bpe_piece((const uint8_t *)word, strlen(word), ids, 256);
        CHECK(bpe && n == cJSON_GetArraySize(bpe), "case %d word %d: %d bpe symbols, want %d", idx, w, n,
              bpe ? cJSON_GetArraySize(bpe) : -1);
        for (int k = 0; bpe && k < n && k < cJSON_GetArraySize(bpe); k++) {
            const char *got = eva_bpe_token_str(ids[k]);
            const char *exp = cJSON_GetArrayItem(bpe, k)->valuestring;
            CHECK(got && strcmp(got, exp) == 0, "case %d word %d sym %d: '%s' want '%s'", idx, w, k, got, exp);
        }
        free(word);
        w++;
    }
    CHECK(w == cJSON_GetArraySize(words), "case %d: %d words, want %d", idx, w, cJSON_GetArraySize(words));

    /* ids before truncation (encode + specials), final ids and the 77 context ids */
    size_t total = 0;
    CHECK_OK(eva_tokenize_encode(text, len, NULL, 0, &total));
    int32_t *all = malloc((total + 2) * sizeof *all);
    size_t total2 = 0;
    CHECK_OK(eva_tokenize_encode(text, len, all + 1, total, &total2));
    all[0] = EVA_TOK_SOT;
    all[total + 1] = EVA_TOK_EOT;
    CHECK(total2 == total && ids_equal(cJSON_GetObjectItem(c, "ids_before_truncation"), all, (int)total + 2),
          "case %d ids_before_truncation differ (%zu ids)", idx, total + 2);
    free(all);
    int32_t ctx[77];
    int nt = -1;
    CHECK_OK(eva_tokenize(text, len, ctx, 77, &nt));
    CHECK(ids_equal(cJSON_GetObjectItem(c, "context_ids"), ctx, 77), "case %d context_ids differ", idx);
    /* the file's "ids" end at the first <end_of_text> (a literal one in the text included) */
    int first_eot = 0;
    while (first_eot < nt && ctx[first_eot] != EVA_TOK_EOT) first_eot++;
    CHECK(ids_equal(cJSON_GetObjectItem(c, "ids"), ctx, first_eot + 1), "case %d ids differ (n=%d)", idx, nt);
    CHECK(nt >= 2 && ctx[nt - 1] == EVA_TOK_EOT && (nt == 77 || ctx[nt] == 0), "case %d n_tokens %d", idx, nt);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c, "truncated")) == (total + 2 > 77), "case %d truncated flag", idx);

    eva_cpbuf_free(&raw);
    eva_cpbuf_free(&ft);
    eva_cpbuf_free(&basic);
    eva_cpbuf_free(&clean);
    free(text);
    return g_test_failures == fails0;
}

/* Stages without ftfy against Python on random strings (tests/data/tokenizer/unicode_cases.json,
 * from scripts/gen_tokenizer_unicode_cases.py): html.unescape, whitespace + lower, NFC, regex. */
static void check_unicode_cases(void) {
    size_t jl = 0;
    char *json = read_all("data/tokenizer/unicode_cases.json", &jl);
    CHECK(json != NULL, "cannot read data/tokenizer/unicode_cases.json");
    if (!json) return;
    cJSON *root = cJSON_Parse(json);
    const cJSON *cases = cJSON_GetObjectItem(root, "cases");
    int n = cJSON_GetArraySize(cases), bad = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *c = cJSON_GetArrayItem(cases, i);
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        eva_cpbuf raw = {0}, out = {0};
        eva_utf8_decode((const uint8_t *)text, strlen(text), &raw, false);
        static const char *const keys[] = {"html_unescape", "ws_lower", "nfc"};
        for (int k = 0; k < 3; k++) {
            eva_status st = k == 0 ? eva_text_html_unescape(raw.v, raw.n, &out)
                          : k == 1 ? eva_text_whitespace_lower(raw.v, raw.n, &out)
                                   : eva_text_nfc(raw.v, raw.n, &out);
            char *got = cps_to_utf8(out.v, out.n);
            const char *want = cJSON_GetObjectItem(c, keys[k])->valuestring;
            int ok = st == EVA_OK && strcmp(got, want) == 0;
            CHECK(ok, "unicode case %d %s: got '%s' want '%s' (text '%s')", i, keys[k], got, want, text);
            bad += !ok;
            free(got);
        }
        /* pieces of the whitespace+lower output */
        eva_text_whitespace_lower(raw.v, raw.n, &out);
        const cJSON *pieces = cJSON_GetObjectItem(c, "pieces");
        size_t pos = 0, a, b;
        int w = 0;
        while (eva_text_next_piece(out.v, out.n, &pos, &a, &b)) {
            char *got = cps_to_utf8(out.v + a, b - a);
            const cJSON *pw = cJSON_GetArrayItem(pieces, w);
            int ok = pw && strcmp(got, pw->valuestring) == 0;
            CHECK(ok, "unicode case %d piece %d: got '%s' want '%s'", i, w, got, pw ? pw->valuestring : "(none)");
            bad += !ok;
            free(got);
            w++;
        }
        CHECK(w == cJSON_GetArraySize(pieces), "unicode case %d: %d pieces, want %d", i, w, cJSON_GetArraySize(pieces));
        eva_cpbuf_free(&raw);
        eva_cpbuf_free(&out);
    }
    printf("unicode stage cases: %d strings, %d mismatches\n", n, bad);
    cJSON_Delete(root);
    free(json);
}

/* ftfy behaviours stated in golden README §4.1 that the 40 cases do not all reach (expected values
 * follow those rules; they were not produced by running ftfy). */
static void check_ftfy_rules(void) {
    static const struct { const char *in, *want; } t[] = {
        {"&ldquo;hi&rdquo;", "\"hi\""},                         /* ftfy unescapes, then uncurls */
        {"<b>&ldquo;hi&rdquo;", "<b>\xe2\x80\x9chi\xe2\x80\x9d"},   /* '<': only html.unescape */
        {"&ldquo;a\n<b>\n&ldquo;x", "\"a\n<b>\n\xe2\x80\x9cx"},   /* stays off after the '<' line */
        {"&EACUTE;t&eacute;", "\xc3\x89t\xc3\xa9"},              /* ftfy's upper-case entity names */
        {"\x1b[31mred\x1b[0m", "red"},                           /* terminal escapes */
        {"\xef\xac\x83 \xc7\x84", "ffi D\xc5\xbd"},              /* ligatures */
        {"it&#x2019;s", "it's"},
        {"caf\xc3\x83\xc2\xa9", "caf\xc3\xa9"},                   /* mojibake */
        {"a\r\nb\rc", "a\nb\nc"},
        {"x\xc2\x96y", "x\xe2\x80\x93y"},                         /* C1 0x96 -> en dash */
        {"&amp;amp;amp;", "&"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        eva_cpbuf raw = {0}, out = {0};
        eva_utf8_decode((const uint8_t *)t[i].in, strlen(t[i].in), &raw, false);
        CHECK_OK(eva_text_basic_clean(raw.v, raw.n, &out));
        char *got = cps_to_utf8(out.v, out.n);
        CHECK(strcmp(got, t[i].want) == 0, "ftfy rule %zu: got '%s' want '%s'", i, got, t[i].want);
        free(got);
        eva_cpbuf_free(&raw);
        eva_cpbuf_free(&out);
    }
}

static void tok(const char *s, size_t len, int32_t out[77]) {
    int n;
    CHECK_OK(eva_tokenize(s, len, out, 77, &n));
}

/* Invariants every output must satisfy: SOT first, EOT at n-1, zeros after, ids in range. */
static void check_shape(const int32_t *ids, int n, int context, const char *what) {
    CHECK(n >= 2 && n <= context, "%s: n=%d", what, n);
    CHECK(ids[0] == EVA_TOK_SOT, "%s: first id %d", what, ids[0]);
    CHECK(ids[n - 1] == EVA_TOK_EOT, "%s: last id %d", what, ids[n - 1]);
    for (int i = 0; i < context; i++) CHECK(ids[i] >= 0 && ids[i] < EVA_TOK_VOCAB, "%s: id %d", what, ids[i]);
    for (int i = n; i < context; i++) CHECK(ids[i] == 0, "%s: pad %d = %d", what, i, ids[i]);
}

static void *thread_fn(void *arg) {
    int32_t *out = arg;
    int n;
    if (eva_tokenize("a photo of a cat", 16, out, 77, &n) != EVA_OK) out[0] = -1;
    return NULL;
}

int main(void) {
    /* First use from four threads at once (pthread_once initialisation). */
    pthread_t th[4];
    int32_t tout[4][77];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, thread_fn, tout[i]);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 1; i < 4; i++) CHECK(memcmp(tout[0], tout[i], sizeof tout[0]) == 0, "thread %d differs", i);
    CHECK(tout[0][0] == EVA_TOK_SOT && tout[0][1] == 320 && tout[0][2] == 1125, "threads: %d %d %d", tout[0][0],
          tout[0][1], tout[0][2]);

    size_t jl = 0;
    char *json = read_all("data/tokenizer/tokenizer_cases.json", &jl);
    CHECK(json != NULL, "cannot read data/tokenizer/tokenizer_cases.json");
    if (!json) return test_finish("test_tokenizer");
    cJSON *root = cJSON_Parse(json);
    CHECK(root != NULL, "json parse");
    CHECK(cJSON_GetObjectItem(root, "vocab_size")->valueint == EVA_TOK_VOCAB, "vocab size");
    const cJSON *cases = cJSON_GetObjectItem(root, "cases");
    int ncase = cJSON_GetArraySize(cases), pass = 0;
    for (int i = 0; i < ncase; i++) {
        bool known = false;
        for (size_t k = 0; k < sizeof k_known_divergent / sizeof k_known_divergent[0]; k++) known |= k_known_divergent[k] == i;
        int ok = check_case(i, cJSON_GetArrayItem(cases, i));
        pass += ok;
        if (known) printf("case %d: known divergence, %s\n", i, ok ? "now passes" : "differs");
    }
    printf("golden cases: %d / %d identical at every stage\n", pass, ncase);
    CHECK(pass == ncase, "%d cases differ", ncase - pass);

    check_unicode_cases();
    check_ftfy_rules();

    int32_t ids[77], ref[77];
    int n;
    /* empty and all-whitespace text, NULL text with len 0 */
    CHECK_OK(eva_tokenize("", 0, ids, 77, &n));
    CHECK(n == 2 && ids[0] == EVA_TOK_SOT && ids[1] == EVA_TOK_EOT && ids[2] == 0 && ids[76] == 0, "empty: n=%d", n);
    CHECK_OK(eva_tokenize(NULL, 0, ids, 77, &n));
    CHECK(n == 2, "NULL text: n=%d", n);

    /* 100 kB of text: truncated to 77, last id EOT; and 100 kB without any space (one BPE word) */
    size_t big = 100 * 1024;
    char *t = malloc(big);
    for (size_t i = 0; i < big; i++) t[i] = "a photo of a dog "[i % 17];
    double t0 = eva_now_seconds();
    CHECK_OK(eva_tokenize(t, big, ids, 77, &n));
    double t1 = eva_now_seconds();
    CHECK(n == 77 && ids[76] == EVA_TOK_EOT && ids[1] == 320, "100 kB: n=%d last=%d", n, ids[76]);
    check_shape(ids, n, 77, "100 kB");
    memset(t, 'a', big);
    CHECK_OK(eva_tokenize(t, big, ids, 77, &n));
    double t2 = eva_now_seconds();
    check_shape(ids, n, 77, "100 kB one word");
    CHECK(n == 77, "100 kB one word: n=%d", n);
    size_t total = 0;
    CHECK_OK(eva_tokenize_encode(t, big, NULL, 0, &total));
    CHECK(total > 1000, "100 kB one word: %zu ids", total);
    printf("100 kB text: %.1f ms (words), %.1f ms (one 100 kB word)\n", (t1 - t0) * 1e3, (t2 - t1) * 1e3);
    free(t);

    /* heap BPE == reference loop on long random words over a small alphabet (many merges) */
    eva_rng rng = eva_rng_make(7, 0);
    for (int r = 0; r < 200; r++) {
        int32_t a[300], b[300];
        size_t len = 2 + (size_t)eva_rng_below(&rng, 280);
        for (size_t i = 0; i < len; i++) {
            uint8_t ch = (uint8_t)"aeinrstlo"[eva_rng_below(&rng, 9)];
            a[i] = b[i] = ch >= 'a' ? (int32_t)(ch - 'a' + 64) : 0;   /* byte ids of 'a'..'z' are 64.. */
        }
        a[len - 1] += 256;
        b[len - 1] += 256;
        size_t na = eva_bpe_merge_simple(a, len), nb = eva_bpe_merge_heap(b, len);
        CHECK(na == nb && memcmp(a, b, na * sizeof a[0]) == 0, "heap BPE differs (len %zu)", len);
    }

    /* invalid UTF-8 behaves as Python's decode('utf-8', 'replace') */
    static const struct { const char *bad; size_t blen; const char *good; } inv[] = {
        {"\xff abc", 5, "\xef\xbf\xbd abc"},
        {"x\xe2\x82", 3, "x\xef\xbf\xbd"},
        {"\xf0\x80", 2, "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},
        {"a\x80" "b", 3, "a\xef\xbf\xbd" "b"},
    };
    for (size_t i = 0; i < sizeof inv / sizeof inv[0]; i++) {
        tok(inv[i].bad, inv[i].blen, ids);
        tok(inv[i].good, strlen(inv[i].good), ref);
        CHECK(memcmp(ids, ref, sizeof ids) == 0, "invalid utf-8 #%zu differs from its U+FFFD form", i);
    }
    /* embedded NUL bytes are data, not terminators (ftfy removes U+0000) */
    tok("cat\0dog", 7, ids);
    tok("catdog", 6, ref);
    CHECK(memcmp(ids, ref, sizeof ids) == 0, "NUL inside text");

    /* other contexts; argument errors */
    CHECK_OK(eva_tokenize("a photo of a cat", 16, ids, 2, &n));
    CHECK(n == 2 && ids[0] == EVA_TOK_SOT && ids[1] == EVA_TOK_EOT, "context 2");
    CHECK_OK(eva_tokenize("a photo of a cat", 16, ids, 4, &n));
    CHECK(n == 4 && ids[1] == 320 && ids[2] == 1125 && ids[3] == EVA_TOK_EOT, "context 4");
    CHECK(eva_tokenize("x", 1, ids, 1, &n) == EVA_ERR_INVALID_ARG, "context 1 refused");
    CHECK(eva_tokenize("x", 1, NULL, 77, &n) == EVA_ERR_INVALID_ARG, "NULL ids refused");
    CHECK(eva_tokenize(NULL, 3, ids, 77, &n) == EVA_ERR_INVALID_ARG, "NULL text refused");
    CHECK(strlen(eva_last_error()) > 0, "error message set");

    /* throughput on the case strings: best of 5 batches of 40 x 40 strings (the machine is shared) */
    double best = 1e9;
    int strings = 0;
    for (int batch = 0; batch < 5; batch++) {
        double s0 = eva_now_seconds();
        strings = 0;
        for (int r = 0; r < 40; r++)
            for (int i = 0; i < ncase; i++) {
                const char *txt = cJSON_GetObjectItem(cJSON_GetArrayItem(cases, i), "text")->valuestring;
                eva_tokenize(txt, strlen(txt), ids, 77, &n);
                strings++;
            }
        double dt = eva_now_seconds() - s0;
        if (dt < best) best = dt;
    }
    printf("throughput: %d strings in %.4f s = %.0f strings/s (1 thread, best of 5)\n", strings, best, strings / best);

    cJSON_Delete(root);
    free(json);
    return test_finish("test_tokenizer");
}
