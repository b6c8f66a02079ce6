#!/usr/bin/env python3
"""gen_tokenizer_unicode_cases.py — dev-time generator of tests/data/tokenizer/unicode_cases.json:
random strings with Python 3.11's answers for the stages of the CLIP tokenizer that do not need
ftfy: html.unescape, " ".join(s.split()).lower(), unicodedata NFC and the pre-tokenisation regex
(`regex` module, IGNORECASE). Only code points assigned in Unicode 14 are used, so a newer
`regex` module gives the same pieces. Usage: python3 scripts/gen_tokenizer_unicode_cases.py"""
import html
import html.entities
import json
import random
import unicodedata as ud

import regex

PAT = regex.compile(r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
                    regex.IGNORECASE)
rng = random.Random(1234)
pool = (list("abcxyzABCXYZ019 '<>&;#") + ["\u017f", "\u0130", "\u03a3", "\u03c3", "\u0345", "\u00df", "\u1e9e",
        "\u00a0", "\u2003", "\u3000", "\x1c", "\x85", "\t", "\n", "\u2028", "\u0301", "\u0300", "\u0323",
        "\u0327", "\u05b0", "\u0591", "\u1100", "\u1161", "\u11a8", "\uac00", "\ud55c", "\u00c5", "\u212b",
        "\u2126", "\u1e0a", "\u0041\u030a", "\u4e2d", "\u0661", "\u2167", "\u00bd", "\U0001F600", "\U0001F3FD",
        "\u200d", "\uff21", "\u0399", "\u1f88", "\u01c5", "\u0149", "\ufb01", "'S", "'LL", "\u2019", "\ufffd"])
names = list(html.entities.html5)


def rand_text(k):
    out = []
    for _ in range(k):
        r = rng.random()
        if r < 0.12:
            n = rng.choice(names)
            if rng.random() < 0.3:
                n = n[: rng.randint(1, len(n))]
            out.append("&" + n)
        elif r < 0.18:
            num = rng.choice([0, 9, 13, 65, 0x80, 0x85, 0x9f, 0xd800, 0xfdd0, 0xfffe, 0x10ffff, 0x110000, 10**12,
                              0x1F600, 0xe9])
            out.append(rng.choice(["&#%d" % num, "&#x%x" % num, "&#X%X;" % num, "&#%d;" % num]))
        else:
            out.append(rng.choice(pool))
    return "".join(out)


cases = []
for i in range(400):
    t = rand_text(rng.randint(0, 24))
    t = "".join(ch for ch in t if ud.category(ch) != "Cn" or ch == "")
    clean = " ".join(t.split()).lower()
    cases.append({
        "text": t,
        "html_unescape": html.unescape(t),
        "ws_lower": clean,
        "nfc": ud.normalize("NFC", t),
        "pieces": PAT.findall(clean),
    })
with open("tests/data/tokenizer/unicode_cases.json", "w", encoding="utf-8") as f:
    json.dump({"python_unicode_version": ud.unidata_version, "cases": cases}, f, ensure_ascii=True, indent=0)
print(len(cases), "cases")
