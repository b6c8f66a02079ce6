#!/usr/bin/env python3
"""Split a safetensors file into parts under a size limit (repo files stay < 5 MB).
The tests merge the parts back (tests/test_util.h: test_merge_parts). Dev-time only; plain
json+struct, no torch. usage: split_safetensors.py IN.safetensors OUT_PREFIX MAX_BYTES"""
import json, struct, sys

src, prefix, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
raw = open(src, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
meta = hdr.pop('__metadata__', None)
data = raw[8 + n:]
parts, cur, size = [], {}, 0
for name, e in hdr.items():
    b, en = e['data_offsets']
    if cur and size + (en - b) > limit - 65536:
        parts.append(cur); cur, size = {}, 0
    cur[name] = e; size += en - b
parts.append(cur)
for i, p in enumerate(parts):
    h, blob, pos = {}, b'', 0
    if meta and i == 0:
        h['__metadata__'] = meta
    for name, e in p.items():
        b, en = e['data_offsets']
        h[name] = {'dtype': e['dtype'], 'shape': e['shape'], 'data_offsets': [pos, pos + en - b]}
        blob += data[b:en]; pos += en - b
    j = json.dumps(h, separators=(',', ':')).encode()
    j += b' ' * ((8 - len(j) % 8) % 8)
    with open(f'{prefix}.part{i}.safetensors', 'wb') as f:
        f.write(struct.pack('<Q', len(j)) + j + blob)
    print(f'{prefix}.part{i}.safetensors', len(p), 'tensors')
