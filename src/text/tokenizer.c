/* tokenizer.c — pre-tokenisation with open_clip's regex and the public entry points
 * eva_tokenize / eva_tokenize_encode.
 *
 * The regex (module `regex`, IGNORECASE), tried in this order at each position:
 *   <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * Characters matching none of them (whitespace) are skipped. The text is already lower-cased;
 * the only remaining IGNORECASE effects are U+017F LONG S, which simple case folding equates
 * with 's', and a quirk of the `regex` module: U+0345 COMBINING GREEK YPOGEGRAMMENI (Mn, case
 * variants of which are letters) matches neither [\p{L}] nor [^\s\p{L}\p{N}] under IGNORECASE,
 * so it is skipped like whitespace (checked for every Unicode 14 code point with regex 2026.5.9,
 * see scripts/gen_tokenizer_unicode_cases.py). `\s` is Python's isspace() minus U+001C..U+001F.
 *
 * Invalid UTF-8: each maximal invalid subpart becomes U+FFFD, as Python's
 * bytes.decode('utf-8', 'replace') (U+FFFD is a symbol, so it is BPE'd as bytes EF BF BD). */
#include "text/tokenizer.h"
#include "text/unicode_tables.h"

#include <stdlib.h>

static bool fold_eq(uint32_t c, char lit) {
    return c == (uint32_t)(unsigned char)lit || (lit == 's' && c == 0x17F);
}

/* Length in code points of `lit` matched case-insensitively at t[i], or 0. */
static size_t match_lit(const uint32_t *t, size_t n, size_t i, const char *lit) {
    size_t k = 0;
    for (; lit[k]; k++)
        if (i + k >= n || !fold_eq(t[i + k], lit[k])) return 0;
    return k;
}

/* regex `\s` (Unicode White_Space): str.isspace() without the separators U+001C..U+001F. */
static bool re_space(uint32_t c) { return (c < 0x1C || c > 0x1F) && eva_u_is_space(c); }
/* [^\s\p{L}\p{N}] under IGNORECASE */
static bool re_other(uint32_t c) { return c != 0x345 && !re_space(c) && !eva_u_is_letter(c) && !eva_u_is_number(c); }

bool eva_text_next_piece(const uint32_t *t, size_t n, size_t *pos, size_t *start, size_t *end) {
    static const char *const lits[] = {"<start_of_text>", "<end_of_text>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    size_t i = *pos;
    while (i < n) {
        uint32_t c = t[i];
        if (c == '<' || c == '\'') {
            for (size_t k = 0; k < sizeof lits / sizeof lits[0]; k++) {
                size_t m = match_lit(t, n, i, lits[k]);
                if (m) {
                    *start = i;
                    *end = *pos = i + m;
                    return true;
                }
            }
        }
        if (eva_u_is_letter(c)) {
            size_t j = i + 1;
            while (j < n && eva_u_is_letter(t[j])) j++;
            *start = i;
            *end = *pos = j;
            return true;
        }
        if (eva_u_is_number(c)) {
            *start = i;
            *end = *pos = i + 1;
            return true;
        }
        if (re_other(c)) {
            size_t j = i + 1;
            while (j < n && re_other(t[j])) j++;
            *start = i;
            *end = *pos = j;
            return true;
        }
        i++;
    }
    *pos = n;
    return false;
}

eva_status eva_text_clean_utf8(const char *text, size_t len, eva_cpbuf *out) {
    eva_cpbuf raw = {0}, basic = {0};
    eva_status st = EVA_OK;
    if (!eva_utf8_decode((const uint8_t *)text, len, &raw, false)) st = EVA_ERR_NOMEM;
    if (st == EVA_OK) st = eva_text_basic_clean(raw.v, raw.n, &basic);
    if (st == EVA_OK) st = eva_text_whitespace_lower(basic.v, basic.n, out);
    eva_cpbuf_free(&raw);
    eva_cpbuf_free(&basic);
    if (st != EVA_OK) return eva_fail(st, "tokenizer: out of memory while cleaning %zu bytes of text", len);
    return EVA_OK;
}

/* Encode cleaned text; stops once `stop_after` ids exist (SIZE_MAX: never). *total receives
 * the number of ids produced (>= what fits in cap). */
static eva_status encode_clean(const eva_cpbuf *t, int32_t *ids, size_t cap, size_t stop_after, size_t *total) {
    size_t pos = 0, s, e, count = 0;
    uint8_t *bytes = NULL;
    size_t bytes_cap = 0;
    eva_status st = EVA_OK;
    while (count < stop_after && eva_text_next_piece(t->v, t->n, &pos, &s, &e)) {
        size_t need;
        if (!eva_size_mul(e - s, 4, &need)) { st = eva_fail(EVA_ERR_NOMEM, "tokenizer: piece too long"); break; }
        if (need > bytes_cap) {
            uint8_t *nb = realloc(bytes, need);
            if (!nb) { st = eva_fail(EVA_ERR_NOMEM, "tokenizer: out of memory"); break; }
            bytes = nb;
            bytes_cap = need;
        }
        size_t bl = 0;
        for (size_t k = s; k < e; k++) bl += (size_t)eva_utf8_put(t->v[k], bytes + bl);
        int got = eva_bpe_piece(bytes, bl, ids ? ids + EVA_MIN(count, cap) : NULL, count < cap ? cap - count : 0);
        if (got < 0) { st = eva_fail(EVA_ERR_NOMEM, "tokenizer: out of memory in BPE"); break; }
        count += (size_t)got;
    }
    free(bytes);
    *total = count;
    return st;
}

eva_status eva_tokenize_encode(const char *text, size_t len, int32_t *ids, size_t cap, size_t *n_ids_out) {
    if (n_ids_out) *n_ids_out = 0;
    if (!text && len) return eva_fail(EVA_ERR_INVALID_ARG, "eva_tokenize_encode: text is NULL");
    if (!ids && cap) return eva_fail(EVA_ERR_INVALID_ARG, "eva_tokenize_encode: ids is NULL");
    eva_status st = eva_bpe_init();
    if (st != EVA_OK) return st;
    eva_cpbuf t = {0};
    st = eva_text_clean_utf8(text ? text : "", len, &t);
    size_t total = 0;
    if (st == EVA_OK) st = encode_clean(&t, ids, cap, SIZE_MAX, &total);
    eva_cpbuf_free(&t);
    if (st == EVA_OK && n_ids_out) *n_ids_out = total;
    return st;
}

eva_status eva_tokenize(const char *text, size_t len, int32_t *ids, int context, int *n_tokens_out) {
    if (n_tokens_out) *n_tokens_out = 0;
    if (!ids) return eva_fail(EVA_ERR_INVALID_ARG, "eva_tokenize: ids is NULL");
    if (context < 2 || context > (1 << 20))
        return eva_fail(EVA_ERR_INVALID_ARG, "eva_tokenize: context %d out of range [2, 1048576]", context);
    if (!text && len) return eva_fail(EVA_ERR_INVALID_ARG, "eva_tokenize: text is NULL");
    for (int i = 0; i < context; i++) ids[i] = 0;
    eva_status st = eva_bpe_init();
    if (st != EVA_OK) return st;
    eva_cpbuf t = {0};
    st = eva_text_clean_utf8(text ? text : "", len, &t);
    size_t total = 0;
    /* Only the first context - 1 ids after <start_of_text> can survive truncation. */
    if (st == EVA_OK) st = encode_clean(&t, ids + 1, (size_t)context - 1, (size_t)context - 1, &total);
    eva_cpbuf_free(&t);
    if (st != EVA_OK) {
        for (int i = 0; i < context; i++) ids[i] = 0;
        return st;
    }
    ids[0] = EVA_TOK_SOT;
    size_t n = total + 2;   /* [SOT] + ids + [EOT] */
    if (n > (size_t)context) n = (size_t)context;   /* truncate=True: the last id becomes EOT */
    ids[n - 1] = EVA_TOK_EOT;
    for (size_t i = n; i < (size_t)context; i++) ids[i] = 0;
    if (n_tokens_out) *n_tokens_out = (int)n;
    return EVA_OK;
}
