/* unicode_tables.h — Unicode data for the CLIP tokenizer (generated into unicode_tables.c by
 * scripts/gen_unicode_tables.py from Python 3.11 / Unicode 14.0.0) and the lookups over it.
 * Every table is sorted by code point so lookups are binary searches. */
#ifndef EVA_TEXT_UNICODE_TABLES_H
#define EVA_TEXT_UNICODE_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct { uint32_t lo, hi; } eva_u_range;                 /* inclusive */
typedef struct { uint32_t cp; uint32_t to[2]; } eva_u_map2;      /* 0 = unused slot */
typedef struct { uint32_t cp; uint8_t ccc; } eva_u_ccc;
typedef struct { uint32_t cp; uint16_t off, len; } eva_u_decomp; /* into eva_u_decomp_pool */
typedef struct { uint32_t a, b, c; } eva_u_comp;                 /* a + b -> c, sorted by (a, b) */
typedef struct { const char *name; uint32_t to[3]; } eva_u_entity; /* name without '&' */

extern const eva_u_range eva_u_letter[], eva_u_number[], eva_u_space[], eva_u_cased[],
    eva_u_case_ignorable[];
extern const int eva_u_letter_len, eva_u_number_len, eva_u_space_len, eva_u_cased_len,
    eva_u_case_ignorable_len;
extern const eva_u_map2 eva_u_lower[], eva_u_width[];
extern const int eva_u_lower_len, eva_u_width_len;
extern const eva_u_ccc eva_u_ccc_table[];
extern const int eva_u_ccc_len;
extern const eva_u_decomp eva_u_decomp_table[];
extern const int eva_u_decomp_len;
extern const uint32_t eva_u_decomp_pool[];
extern const eva_u_comp eva_u_comp_table[];
extern const int eva_u_comp_len;
/* html.entities.html5 (keys with and without ';'), sorted by byte string. */
extern const eva_u_entity eva_u_html5[];
extern const int eva_u_html5_len;
/* ftfy's extra upper-case forms ("EACUTE;" -> "É"), sorted. */
extern const eva_u_entity eva_u_html5_upper[];
extern const int eva_u_html5_upper_len;

/* ---- lookups (unicode.c) */
bool eva_u_is_letter(uint32_t c);     /* regex [\p{L}] */
bool eva_u_is_number(uint32_t c);     /* regex [\p{N}] */
bool eva_u_is_space(uint32_t c);      /* Python str.isspace() */
bool eva_u_is_cased(uint32_t c);
bool eva_u_is_case_ignorable(uint32_t c);
/* Python str.lower() of one code point (no final-sigma context): writes 1-2 code points. */
int eva_u_lower_cp(uint32_t c, uint32_t out[2]);
/* ftfy width map: returns the number of code points written (0: not in the map). */
int eva_u_width_cp(uint32_t c, uint32_t out[2]);
int eva_u_ccc_of(uint32_t c);
/* Full canonical decomposition incl. Hangul; returns the count written to out (<= 4), 0 if none. */
int eva_u_decompose(uint32_t c, uint32_t out[4]);
/* Primary composite of (a, b) incl. Hangul LV/LVT, or 0. */
uint32_t eva_u_compose(uint32_t a, uint32_t b);
/* Entity lookup by exact name (len bytes, ASCII). NULL when absent. */
const eva_u_entity *eva_u_entity_find(const eva_u_entity *table, int n, const char *name, size_t len);

#endif
