/* ftfy_lite.c — the part of ftfy 6.3.1's fix_text() (default settings) that open_clip's
 * tokenizer relies on, re-implemented on code points.
 *
 * Reproduced exactly (golden README-train-clip.md §4.1):
 *   - line-by-line processing: segments end after each '\n'; HTML unescaping is switched off for
 *     the rest of the text once a segment contains '<';
 *   - per segment, repeated until nothing changes: unescape_html (ftfy's own rule: only
 *     "&name;" with a ';', the HTML5 table plus upper-cased names, numeric references), the
 *     fixers fix_c1_controls (sloppy Windows-1252), fix_latin_ligatures, fix_character_width,
 *     uncurl_quotes (U+2018-201B -> ', U+201C-201F -> "), fix_line_breaks,
 *     remove_terminal_escapes, remove_control_chars, then NFC.
 * Simplified (documented divergences):
 *   - mojibake repair (fix_encoding): a segment is re-decoded only when ALL of it encodes as
 *     Latin-1 or sloppy Windows-1252 and those bytes are valid UTF-8 with at least one multi-byte
 *     sequence ("cafÃ©" -> "café"). ftfy's badness heuristic, the other code pages (1250, 1251,
 *     MacRoman, cp437), partial repair of mixed text (decode_inconsistent_utf8), restoring
 *     0xA0 bytes and lossy sequences are not reproduced.
 *   - fix_surrogates: input is UTF-8, so surrogates never reach here (invalid bytes -> U+FFFD).
 *   - the repeat loop stops after 64 rounds per segment (only adversarially nested entities such
 *     as "&amp;amp;amp;..." need more; Python would keep going).
 *   - U+02BC in uncurl_quotes: not converted (pre-6.x behaviour, unverified for 6.3.1). */
#include "text/tokenizer.h"
#include "text/unicode_tables.h"

#include <stdlib.h>

uint32_t eva_text_cp1252_c1(uint32_t c);   /* text_clean.c */

static bool is_alnum_ascii(uint32_t c) {
    return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

/* ftfy.fixes.unescape_html: regex &#?[0-9A-Za-z]{1,24}; */
static bool ftfy_unescape(const uint32_t *in, size_t n, eva_cpbuf *out) {
    out->n = 0;
    for (size_t i = 0; i < n;) {
        if (in[i] == '&') {
            size_t j = i + 1;
            bool num = j < n && in[j] == '#';
            if (num) j++;
            size_t k = j;
            while (k < n && is_alnum_ascii(in[k])) k++;
            if (k > j && k - j <= 24 && k < n && in[k] == ';') {
                size_t mlen = k + 1 - i;   /* "&...;" */
                if (!num) {
                    char name[26];
                    for (size_t t = j; t <= k; t++) name[t - j] = (char)in[t];
                    const eva_u_entity *e = eva_u_entity_find(eva_u_html5, eva_u_html5_len, name, k + 1 - j);
                    if (!e) e = eva_u_entity_find(eva_u_html5_upper, eva_u_html5_upper_len, name, k + 1 - j);
                    if (e) {
                        for (int t = 0; t < 3 && e->to[t]; t++)
                            if (!eva_cpbuf_push(out, e->to[t])) return false;
                        i += mlen;
                        continue;
                    }
                } else {
                    /* html.unescape of the match, kept only if it consumed the ';' */
                    eva_cpbuf tmp = {0};
                    if (eva_text_html_unescape(in + i, mlen, &tmp) != EVA_OK) { eva_cpbuf_free(&tmp); return false; }
                    bool semi = false;
                    for (size_t t = 0; t < tmp.n; t++) semi |= tmp.v[t] == ';';
                    bool ok = semi ? eva_cpbuf_append(out, in + i, mlen) : eva_cpbuf_append(out, tmp.v, tmp.n);
                    eva_cpbuf_free(&tmp);
                    if (!ok) return false;
                    i += mlen;
                    continue;
                }
            }
        }
        if (!eva_cpbuf_push(out, in[i])) return false;
        i++;
    }
    return true;
}

/* Byte of c in sloppy Windows-1252 (undefined bytes decode to the C1 code point), or -1. */
static int sloppy1252_byte(uint32_t c) {
    if (c < 0x80 || (c >= 0xA0 && c <= 0xFF)) return (int)c;
    if (c == 0x81 || c == 0x8D || c == 0x8F || c == 0x90 || c == 0x9D) return (int)c;
    for (uint32_t b = 0x80; b <= 0x9F; b++)
        if (eva_text_cp1252_c1(b) == c) return (int)b;
    return -1;
}

/* Simplified fix_encoding (see the file comment). Returns false only on allocation failure;
 * *changed says whether out holds a repaired segment. */
static bool fix_encoding(const uint32_t *in, size_t n, eva_cpbuf *out, bool *changed) {
    *changed = false;
    bool any_high = false, latin1 = true, cp1252 = true;
    for (size_t i = 0; i < n; i++) {
        if (in[i] >= 0x80) any_high = true;
        if (in[i] > 0xFF) latin1 = false;
        if (sloppy1252_byte(in[i]) < 0) cp1252 = false;
    }
    if (!any_high || (!latin1 && !cp1252)) return true;
    uint8_t *bytes = malloc(n ? n : 1);
    if (!bytes) return false;
    for (size_t i = 0; i < n; i++) bytes[i] = latin1 ? (uint8_t)in[i] : (uint8_t)sloppy1252_byte(in[i]);
    out->n = 0;
    bool valid = eva_utf8_decode(bytes, n, out, true);
    free(bytes);
    if (valid && out->n < n) *changed = true;   /* fewer code points: a multi-byte sequence */
    return true;
}

static bool is_control_removed(uint32_t c) {
    return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
           c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

/* ftfy 6 LIGATURES table: Latin typographic ligatures and the Serbo-Croatian digraphs. */
static int ligature(uint32_t c, uint32_t o[3]) {
    static const struct { uint32_t c; uint32_t to[3]; } t[] = {
        {0x132, {'I', 'J', 0}}, {0x133, {'i', 'j', 0}}, {0x149, {0x2BC, 'n', 0}},
        {0x1C4, {'D', 0x17D, 0}}, {0x1C5, {'D', 0x17E, 0}}, {0x1C6, {'d', 0x17E, 0}},
        {0x1C7, {'L', 'J', 0}}, {0x1C8, {'L', 'j', 0}}, {0x1C9, {'l', 'j', 0}},
        {0x1CA, {'N', 'J', 0}}, {0x1CB, {'N', 'j', 0}}, {0x1CC, {'n', 'j', 0}},
        {0x1F1, {'D', 'Z', 0}}, {0x1F2, {'D', 'z', 0}}, {0x1F3, {'d', 'z', 0}},
        {0xFB00, {'f', 'f', 0}}, {0xFB01, {'f', 'i', 0}}, {0xFB02, {'f', 'l', 0}},
        {0xFB03, {'f', 'f', 'i'}}, {0xFB04, {'f', 'f', 'l'}}, {0xFB05, {0x17F, 't', 0}},
        {0xFB06, {'s', 't', 0}},
    };
    if (c < 0x132) return 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].c == c) {
            int k = 0;
            while (k < 3 && t[i].to[k]) { o[k] = t[i].to[k]; k++; }
            return k;
        }
    return 0;
}

/* The character-level fixers, in ftfy's order, fused in one pass each where order allows:
 * c1 -> ligatures -> width -> quotes (all 1:n maps of single characters, applied in sequence),
 * then line breaks, terminal escapes, control characters. */
static bool char_fixers(const uint32_t *in, size_t n, eva_cpbuf *out) {
    eva_cpbuf a = {0};
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        uint32_t c = eva_text_cp1252_c1(in[i]);
        uint32_t lig[3];
        int nl = ligature(c, lig);
        if (!nl) { lig[0] = c; nl = 1; }
        for (int k = 0; k < nl && ok; k++) {
            uint32_t w[2];
            int nw = eva_u_width_cp(lig[k], w);
            if (!nw) { w[0] = lig[k]; nw = 1; }
            for (int m = 0; m < nw && ok; m++) {
                uint32_t q = w[m];
                if (q >= 0x2018 && q <= 0x201B) q = '\'';
                else if (q >= 0x201C && q <= 0x201F) q = '"';
                ok = eva_cpbuf_push(&a, q);
            }
        }
    }
    /* fix_line_breaks: \r\n, \r, U+2028, U+2029, U+0085 -> \n */
    out->n = 0;
    for (size_t i = 0; i < a.n && ok; i++) {
        uint32_t c = a.v[i];
        if (c == '\r') {
            if (i + 1 < a.n && a.v[i + 1] == '\n') i++;
            c = '\n';
        } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
            c = '\n';
        }
        ok = eva_cpbuf_push(out, c);
    }
    /* remove_terminal_escapes: \x1b\[[0-9;]*[A-Za-z] */
    size_t w = 0;
    for (size_t i = 0; i < out->n && ok;) {
        if (out->v[i] == 0x1B && i + 1 < out->n && out->v[i + 1] == '[') {
            size_t j = i + 2;
            while (j < out->n && ((out->v[j] >= '0' && out->v[j] <= '9') || out->v[j] == ';')) j++;
            if (j < out->n && (out->v[j] | 32) >= 'a' && (out->v[j] | 32) <= 'z') {
                i = j + 1;
                continue;
            }
        }
        out->v[w++] = out->v[i++];
    }
    out->n = w;
    /* remove_control_chars */
    w = 0;
    for (size_t i = 0; i < out->n; i++)
        if (!is_control_removed(out->v[i])) out->v[w++] = out->v[i];
    out->n = w;
    eva_cpbuf_free(&a);
    return ok;
}

/* Unicode NFC: full canonical decomposition, canonical ordering, canonical composition. */
static bool nfc(const uint32_t *in, size_t n, eva_cpbuf *out) {
    eva_cpbuf d = {0};
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        uint32_t dec[4];
        int k = eva_u_decompose(in[i], dec);
        if (!k) ok = eva_cpbuf_push(&d, in[i]);
        else ok = eva_cpbuf_append(&d, dec, (size_t)k);
    }
    /* canonical ordering: stable insertion sort of each run of non-starters by class */
    for (size_t i = 1; i < d.n && ok; i++) {
        int cc = eva_u_ccc_of(d.v[i]);
        if (!cc) continue;
        size_t j = i;
        uint32_t c = d.v[i];
        while (j > 0) {
            int pc = eva_u_ccc_of(d.v[j - 1]);
            if (pc == 0 || pc <= cc) break;
            d.v[j] = d.v[j - 1];
            j--;
        }
        d.v[j] = c;
    }
    out->n = 0;
    size_t starter = SIZE_MAX;
    int last_cc = -1;   /* class of the last character kept after the starter; -1: none */
    for (size_t i = 0; i < d.n && ok; i++) {
        uint32_t c = d.v[i];
        int cc = eva_u_ccc_of(c);
        if (starter != SIZE_MAX && (last_cc == -1 || (last_cc != 0 && last_cc < cc))) {
            uint32_t comp = eva_u_compose(out->v[starter], c);
            if (comp) {
                out->v[starter] = comp;
                continue;
            }
        }
        if (cc == 0) {
            starter = out->n;
            last_cc = -1;
        } else {
            last_cc = cc;
        }
        ok = eva_cpbuf_push(out, c);
    }
    eva_cpbuf_free(&d);
    return ok;
}

eva_status eva_text_nfc(const uint32_t *in, size_t n, eva_cpbuf *out) {
    return nfc(in, n, out) ? EVA_OK : EVA_ERR_NOMEM;
}

static bool same(const eva_cpbuf *a, const eva_cpbuf *b) {
    return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(uint32_t)) == 0);
}

/* ftfy.fix_and_explain on one segment. */
static bool fix_segment(const uint32_t *in, size_t n, bool unescape, eva_cpbuf *out) {
    /* Fast path: printable ASCII plus \t \n \f (and no '&' while unescaping) is a fixed point of
     * every step (no fixer touches it and NFC of ASCII is itself). Most captions take it. */
    bool plain = true;
    for (size_t i = 0; i < n && plain; i++) {
        uint32_t c = in[i];
        plain = ((c >= 0x20 && c <= 0x7E) || c == '\t' || c == '\n' || c == '\f') && !(unescape && c == '&');
    }
    if (plain) return eva_cpbuf_append(out, in, n);
    eva_cpbuf cur = {0}, tmp = {0}, orig = {0};
    bool ok = eva_cpbuf_append(&cur, in, n);
    for (int round = 0; round < 64 && ok; round++) {
        orig.n = 0;
        ok = eva_cpbuf_append(&orig, cur.v, cur.n);
        if (ok && unescape) {
            ok = ftfy_unescape(cur.v, cur.n, &tmp);
            eva_cpbuf s = cur; cur = tmp; tmp = s;
        }
        bool changed = false;
        if (ok) ok = fix_encoding(cur.v, cur.n, &tmp, &changed);
        if (ok && changed) { eva_cpbuf s = cur; cur = tmp; tmp = s; }
        if (ok) { ok = char_fixers(cur.v, cur.n, &tmp); eva_cpbuf s = cur; cur = tmp; tmp = s; }
        if (ok) { ok = nfc(cur.v, cur.n, &tmp); eva_cpbuf s = cur; cur = tmp; tmp = s; }
        if (ok && same(&cur, &orig)) break;
    }
    if (ok) ok = eva_cpbuf_append(out, cur.v, cur.n);
    eva_cpbuf_free(&cur);
    eva_cpbuf_free(&tmp);
    eva_cpbuf_free(&orig);
    return ok;
}

eva_status eva_text_ftfy(const uint32_t *in, size_t n, eva_cpbuf *out) {
    out->n = 0;
    bool unescape = true;
    for (size_t pos = 0; pos < n;) {
        size_t end = pos;
        while (end < n && in[end] != '\n') end++;
        if (end < n) end++;   /* the segment keeps its '\n' */
        if (end - pos > 1000000) end = pos + 1000000;   /* ftfy's max_decode_length */
        if (unescape)
            for (size_t i = pos; i < end; i++)
                if (in[i] == '<') { unescape = false; break; }
        if (!fix_segment(in + pos, end - pos, unescape, out)) return EVA_ERR_NOMEM;
        pos = end;
    }
    return EVA_OK;
}
