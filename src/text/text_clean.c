/* text_clean.c — UTF-8 decoding, html.unescape and the whitespace/lower-case steps of
 * open_clip's clean='lower' (basic_clean + whitespace_clean + str.lower()). All work is on
 * code point arrays (uint32_t), the unit Python's str operations count in. */
#include "text/tokenizer.h"
#include "text/unicode_tables.h"

#include <stdlib.h>

bool eva_cpbuf_push(eva_cpbuf *b, uint32_t c) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        size_t bytes;
        if (cap < b->cap || !eva_size_mul(cap, sizeof(uint32_t), &bytes)) {
            eva_fail(EVA_ERR_NOMEM, "tokenizer: text too large");
            return false;
        }
        uint32_t *v = realloc(b->v, bytes);
        if (!v) {
            eva_fail(EVA_ERR_NOMEM, "tokenizer: out of memory (%zu bytes)", bytes);
            return false;
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = c;
    return true;
}

bool eva_cpbuf_append(eva_cpbuf *b, const uint32_t *c, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!eva_cpbuf_push(b, c[i])) return false;
    return true;
}

void eva_cpbuf_free(eva_cpbuf *b) {
    free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

bool eva_utf8_decode(const uint8_t *s, size_t len, eva_cpbuf *out, bool strict) {
    size_t i = 0;
    while (i < len) {
        uint8_t b = s[i];
        if (b < 0x80) {
            if (!eva_cpbuf_push(out, b)) return false;
            i++;
            continue;
        }
        int need;
        uint32_t cp;
        uint8_t lo = 0x80, hi = 0xBF;   /* allowed range of the second byte */
        if (b >= 0xC2 && b <= 0xDF) { need = 1; cp = b & 0x1F; }
        else if (b >= 0xE0 && b <= 0xEF) {
            need = 2; cp = b & 0x0F;
            if (b == 0xE0) lo = 0xA0;        /* no overlongs */
            if (b == 0xED) hi = 0x9F;        /* no surrogates */
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3; cp = b & 0x07;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F;        /* <= U+10FFFF */
        } else {
            if (strict || !eva_cpbuf_push(out, 0xFFFD)) return false;
            i++;
            continue;
        }
        size_t j = i + 1;
        int got = 0;
        while (got < need && j < len) {
            uint8_t c = s[j];
            uint8_t l = got == 0 ? lo : 0x80, h = got == 0 ? hi : 0xBF;
            if (c < l || c > h) break;
            cp = (cp << 6) | (c & 0x3F);
            got++;
            j++;
        }
        if (got < need) {   /* a maximal invalid subpart: one U+FFFD, resume at the bad byte */
            if (strict || !eva_cpbuf_push(out, 0xFFFD)) return false;
        } else if (!eva_cpbuf_push(out, cp)) {
            return false;
        }
        i = j;
    }
    return true;
}

int eva_utf8_put(uint32_t c, uint8_t o[4]) {
    if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;
    if (c < 0x80) { o[0] = (uint8_t)c; return 1; }
    if (c < 0x800) { o[0] = (uint8_t)(0xC0 | (c >> 6)); o[1] = (uint8_t)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (c >> 12)); o[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    if (c > 0x10FFFF) c = 0xFFFD;
    o[0] = (uint8_t)(0xF0 | (c >> 18)); o[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F)); o[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

/* ------------------------------------------------------------------ html.unescape
 * Python's html.unescape: the pattern &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
 * with _replace_charref: numeric references through the WHATWG replacement table, named ones
 * by exact name, else the longest known prefix (legacy names such as "&ampx" -> "&x"). */

/* Windows-1252 characters for bytes 0x80..0x9F (html _invalid_charrefs; 0x81 etc. stay). */
static const uint16_t k_cp1252_c1[32] = {
    0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039,
    0x152, 0x8D, 0x17D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x2DC, 0x2122, 0x161, 0x203A, 0x153, 0x9D, 0x17E, 0x178};

uint32_t eva_text_cp1252_c1(uint32_t c);
uint32_t eva_text_cp1252_c1(uint32_t c) { return (c >= 0x80 && c <= 0x9F) ? k_cp1252_c1[c - 0x80] : c; }

static bool html_invalid_codepoint(uint64_t n) {
    return (n >= 0x1 && n <= 0x8) || n == 0xB || (n >= 0xE && n <= 0x1F) || (n >= 0x7F && n <= 0x9F) ||
           (n >= 0xFDD0 && n <= 0xFDEF) || (n <= 0x10FFFF && (n & 0xFFFE) == 0xFFFE);
}

static bool is_hex(uint32_t c) { return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'f'); }
static int hex_val(uint32_t c) { return c <= '9' ? (int)(c - '0') : (int)((c | 32) - 'a' + 10); }

/* Replace the reference starting at in[i] == '&'. Returns the number of input code points
 * consumed (0: no match, copy the '&'). */
static size_t html_ref(const uint32_t *in, size_t n, size_t i, eva_cpbuf *out, bool *ok) {
    size_t j = i + 1;
    *ok = true;
    if (j < n && in[j] == '#') {
        j++;
        bool hex = false;
        if (j < n && (in[j] == 'x' || in[j] == 'X') && j + 1 < n && is_hex(in[j + 1])) { hex = true; j++; }
        size_t d0 = j;
        uint64_t num = 0;
        while (j < n && (hex ? is_hex(in[j]) : (in[j] >= '0' && in[j] <= '9'))) {
            num = num * (hex ? 16 : 10) + (uint64_t)(hex ? hex_val(in[j]) : (int)(in[j] - '0'));
            if (num > 0x10FFFFu) num = 0x110000u;   /* saturate: any larger value acts the same */
            j++;
        }
        if (j == d0) return 0;
        if (j < n && in[j] == ';') j++;
        uint32_t r;
        if (num == 0) r = 0xFFFD;
        else if (num == 0x0D) r = 0x0D;
        else if (num >= 0x80 && num <= 0x9F) r = k_cp1252_c1[num - 0x80];
        else if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) r = 0xFFFD;
        else if (html_invalid_codepoint(num)) return j - i;   /* removed */
        else r = (uint32_t)num;
        *ok = eva_cpbuf_push(out, r);
        return j - i;
    }
    /* named: up to 32 characters outside [\t\n\f <&#;], then an optional ';' */
    size_t k = j;
    while (k < n && k - j < 32 && in[k] != '\t' && in[k] != '\n' && in[k] != '\f' && in[k] != ' ' &&
           in[k] != '<' && in[k] != '&' && in[k] != '#' && in[k] != ';')
        k++;
    if (k == j) return 0;
    size_t end = (k < n && in[k] == ';') ? k + 1 : k;   /* the matched name is in[j, end) */
    /* Python: s in _html5 -> whole; else the longest prefix s[:x], x = len(s)-1 .. 2, that is a
     * name, followed by the rest of s unchanged. Names are ASCII, so only the leading ASCII
     * characters of s can take part. */
    size_t full = end - j, asc = 0;
    char name[34];
    while (asc < full && in[j + asc] < 128) { name[asc] = (char)in[j + asc]; asc++; }
    for (size_t x = full; x >= 2 || x == full; x--) {
        if (x <= asc) {
            const eva_u_entity *e = eva_u_entity_find(eva_u_html5, eva_u_html5_len, name, x);
            if (e) {
                for (int t = 0; t < 3 && e->to[t]; t++) *ok = *ok && eva_cpbuf_push(out, e->to[t]);
                *ok = *ok && eva_cpbuf_append(out, in + j + x, full - x);
                return end - i;
            }
        }
        if (x <= 2) break;
    }
    *ok = eva_cpbuf_append(out, in + i, end - i);   /* '&' + s unchanged */
    return end - i;
}

eva_status eva_text_html_unescape(const uint32_t *in, size_t n, eva_cpbuf *out) {
    out->n = 0;
    for (size_t i = 0; i < n;) {
        if (in[i] == '&') {
            bool ok;
            size_t used = html_ref(in, n, i, out, &ok);
            if (!ok) return EVA_ERR_NOMEM;
            if (used) { i += used; continue; }
        }
        if (!eva_cpbuf_push(out, in[i])) return EVA_ERR_NOMEM;
        i++;
    }
    return EVA_OK;
}

/* ------------------------------------------------------------------ basic_clean */
eva_status eva_text_basic_clean(const uint32_t *in, size_t n, eva_cpbuf *out) {
    eva_cpbuf a = {0}, b = {0};
    eva_status st = eva_text_ftfy(in, n, &a);
    if (st == EVA_OK) st = eva_text_html_unescape(a.v, a.n, &b);
    if (st == EVA_OK) st = eva_text_html_unescape(b.v, b.n, &a);
    if (st == EVA_OK) {
        size_t s = 0, e = a.n;
        while (s < e && eva_u_is_space(a.v[s])) s++;
        while (e > s && eva_u_is_space(a.v[e - 1])) e--;
        out->n = 0;
        if (!eva_cpbuf_append(out, a.v + s, e - s)) st = EVA_ERR_NOMEM;
    }
    eva_cpbuf_free(&a);
    eva_cpbuf_free(&b);
    return st;
}

/* Python's Final_Sigma rule for U+03A3 at position i (Objects/unicodeobject.c). */
static uint32_t sigma_lower(const uint32_t *t, size_t n, size_t i) {
    size_t j = i;
    uint32_t c = 0;
    bool found = false;
    while (j-- > 0) {
        c = t[j];
        if (!eva_u_is_case_ignorable(c)) { found = true; break; }
    }
    bool final = found && eva_u_is_cased(c);
    if (final && i + 1 < n) {
        size_t k = i + 1;
        for (; k < n; k++) {
            c = t[k];
            if (!eva_u_is_case_ignorable(c)) break;
        }
        final = k == n || !eva_u_is_cased(c);
    }
    return final ? 0x3C2 : 0x3C3;
}

/* " ".join(text.split()) then .strip() (a no-op after the join) then .lower(). */
eva_status eva_text_whitespace_lower(const uint32_t *in, size_t n, eva_cpbuf *out) {
    eva_cpbuf ws = {0};
    bool pending_space = false;
    for (size_t i = 0; i < n; i++) {
        if (eva_u_is_space(in[i])) {
            pending_space = ws.n > 0;
            continue;
        }
        if (pending_space && !eva_cpbuf_push(&ws, ' ')) goto nomem;
        pending_space = false;
        if (!eva_cpbuf_push(&ws, in[i])) goto nomem;
    }
    out->n = 0;
    for (size_t i = 0; i < ws.n; i++) {
        uint32_t lo[2];
        int k;
        if (ws.v[i] == 0x3A3) { lo[0] = sigma_lower(ws.v, ws.n, i); k = 1; }
        else k = eva_u_lower_cp(ws.v[i], lo);
        if (!eva_cpbuf_append(out, lo, (size_t)k)) goto nomem;
    }
    eva_cpbuf_free(&ws);
    return EVA_OK;
nomem:
    eva_cpbuf_free(&ws);
    return EVA_ERR_NOMEM;
}
