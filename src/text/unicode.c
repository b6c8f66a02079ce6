/* unicode.c — binary-search lookups over the generated Unicode tables (unicode_tables.c). */
#include "text/unicode_tables.h"

#include <string.h>

static bool in_ranges(const eva_u_range *r, int n, uint32_t c) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c < r[mid].lo) hi = mid - 1;
        else if (c > r[mid].hi) lo = mid + 1;
        else return true;
    }
    return false;
}

bool eva_u_is_letter(uint32_t c) {
    if (c < 128) return (c | 32) >= 'a' && (c | 32) <= 'z';
    return in_ranges(eva_u_letter, eva_u_letter_len, c);
}
bool eva_u_is_number(uint32_t c) {
    if (c < 128) return c >= '0' && c <= '9';
    return in_ranges(eva_u_number, eva_u_number_len, c);
}
bool eva_u_is_space(uint32_t c) { return in_ranges(eva_u_space, eva_u_space_len, c); }
bool eva_u_is_cased(uint32_t c) { return in_ranges(eva_u_cased, eva_u_cased_len, c); }
bool eva_u_is_case_ignorable(uint32_t c) { return in_ranges(eva_u_case_ignorable, eva_u_case_ignorable_len, c); }

static const eva_u_map2 *find_map2(const eva_u_map2 *t, int n, uint32_t c) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c < t[mid].cp) hi = mid - 1;
        else if (c > t[mid].cp) lo = mid + 1;
        else return &t[mid];
    }
    return NULL;
}

int eva_u_lower_cp(uint32_t c, uint32_t out[2]) {
    if (c < 128) {
        out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        return 1;
    }
    const eva_u_map2 *m = find_map2(eva_u_lower, eva_u_lower_len, c);
    if (!m) { out[0] = c; return 1; }
    out[0] = m->to[0];
    if (m->to[1]) { out[1] = m->to[1]; return 2; }
    return 1;
}

int eva_u_width_cp(uint32_t c, uint32_t out[2]) {
    if (c != 0x3000 && (c < 0xFF01 || c > 0xFFEF)) return 0;
    const eva_u_map2 *m = find_map2(eva_u_width, eva_u_width_len, c);
    if (!m) return 0;
    out[0] = m->to[0];
    if (m->to[1]) { out[1] = m->to[1]; return 2; }
    return 1;
}

int eva_u_ccc_of(uint32_t c) {
    if (c < 0x300) return 0;
    int lo = 0, hi = eva_u_ccc_len - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c < eva_u_ccc_table[mid].cp) hi = mid - 1;
        else if (c > eva_u_ccc_table[mid].cp) lo = mid + 1;
        else return eva_u_ccc_table[mid].ccc;
    }
    return 0;
}

/* Hangul syllable arithmetic (Unicode ch. 3.12). */
enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7, LCOUNT = 19, VCOUNT = 21,
       TCOUNT = 28, NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

int eva_u_decompose(uint32_t c, uint32_t out[4]) {
    if (c < 0xC0) return 0;
    if (c >= SBASE && c < SBASE + SCOUNT) {
        uint32_t s = c - SBASE;
        out[0] = LBASE + s / NCOUNT;
        out[1] = VBASE + (s % NCOUNT) / TCOUNT;
        if (s % TCOUNT) { out[2] = TBASE + s % TCOUNT; return 3; }
        return 2;
    }
    int lo = 0, hi = eva_u_decomp_len - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c < eva_u_decomp_table[mid].cp) hi = mid - 1;
        else if (c > eva_u_decomp_table[mid].cp) lo = mid + 1;
        else {
            const eva_u_decomp *d = &eva_u_decomp_table[mid];
            for (int i = 0; i < d->len; i++) out[i] = eva_u_decomp_pool[d->off + i];
            return d->len;
        }
    }
    return 0;
}

uint32_t eva_u_compose(uint32_t a, uint32_t b) {
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE && b < TBASE + TCOUNT)
        return a + (b - TBASE);
    int lo = 0, hi = eva_u_comp_len - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const eva_u_comp *e = &eva_u_comp_table[mid];
        if (a < e->a || (a == e->a && b < e->b)) hi = mid - 1;
        else if (a > e->a || b > e->b) lo = mid + 1;
        else return e->c;
    }
    return 0;
}

const eva_u_entity *eva_u_entity_find(const eva_u_entity *t, int n, const char *name, size_t len) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const char *s = t[mid].name;
        size_t sl = strlen(s);
        int cmp = memcmp(name, s, len < sl ? len : sl);
        if (cmp == 0) cmp = len < sl ? -1 : (len > sl ? 1 : 0);
        if (cmp < 0) hi = mid - 1;
        else if (cmp > 0) lo = mid + 1;
        else return &t[mid];
    }
    return NULL;
}
