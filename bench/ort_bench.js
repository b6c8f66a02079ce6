#!/usr/bin/env node
// ort_bench.js — ONNX Runtime (CPU, fp32) peer of bench/compare: runs an exported EVA-g
// (bench/export_onnx.py, input [B,3,S,S] f32 -> logits [B,1000]) W warm-up + R timed times with
// intra_op_num_threads = T, inter_op 1, sequential execution, all graph optimisations, and prints one
// JSON line like the other peers. The input is the raw f32 file written by `torch_eva.py input`
// (the golden formula input), so --logits-out gives logits comparable with eva.c and PyTorch.
//
// usage: node bench/ort_bench.js --model M.onnx --input X.bin --size S --batch B --threads T
//                                [--reps R] [--warmup W] [--depth L] [--logits-out FILE.bin]
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
    const a = { reps: 1, warmup: 1, threads: 2, batch: 1, size: 224, depth: 40 };
    for (let i = 0; i < argv.length; i++) {
        const k = argv[i].replace(/^--/, '').replace(/-/g, '_');
        const v = argv[++i];
        if (v === undefined) throw new Error(`missing value for ${argv[i - 1]}`);
        a[k] = /^(reps|warmup|threads|batch|size|depth)$/.test(k) ? parseInt(v, 10) : v;
    }
    if (!a.model || !a.input) throw new Error('--model and --input are required');
    return a;
}

function flops(depth, size, batch) { // 2 x MACs of spec §1.4 (EVA-g: D 1408, F 6144, P 14, C 1000)
    const D = 1408, F = 6144, P = 14, C = 1000, G = Math.floor(size / P), N = G * G + 1;
    return 2 * batch * (depth * (N * (4 * D * D + 2 * D * F) + 2 * N * N * D) + G * G * 3 * P * P * D + D * C);
}

async function main() {
    const a = parseArgs(process.argv.slice(2));
    const t0 = process.hrtime.bigint();
    const session = await ort.InferenceSession.create(path.resolve(a.model), {
        intraOpNumThreads: a.threads, interOpNumThreads: 1, executionMode: 'sequential',
        graphOptimizationLevel: 'all', executionProviders: ['cpu'],
    });
    const buf = fs.readFileSync(a.input);
    const n = a.batch * 3 * a.size * a.size;
    if (buf.length !== 4 * n) throw new Error(`input has ${buf.length} bytes, expected ${4 * n}`);
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    const feeds = { input: new ort.Tensor('float32', data, [a.batch, 3, a.size, a.size]) };
    const loadS = Number(process.hrtime.bigint() - t0) / 1e9;
    const times = [];
    let out;
    for (let r = 0; r < a.warmup + a.reps; r++) {
        const t = process.hrtime.bigint();
        out = await session.run(feeds);
        const dt = Number(process.hrtime.bigint() - t) / 1e9;
        if (r >= a.warmup) times.push(dt);
    }
    const logits = out.logits.data;
    if (a.logits_out) {
        fs.writeFileSync(a.logits_out + '.tmp', Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength));
        fs.renameSync(a.logits_out + '.tmp', a.logits_out);
    }
    const med = [...times].sort((x, y) => x - y)[Math.floor(times.length / 2)];
    console.log(JSON.stringify({
        peer: 'ort', dtype: 'fp32', ort: ort.env.versions.common, threads: a.threads, depth: a.depth,
        size: a.size, batch: a.batch, ms_per_image: med * 1e3 / a.batch, times_ms: times.map((t) => t * 1e3),
        gflops: flops(a.depth, a.size, a.batch) / med / 1e9, peak_rss_mb: process.resourceUsage().maxRSS / 1024,
        load_s: loadS, logits_first: logits[0],
    }));
}

main().catch((e) => { console.error(`ort_bench: ${e.message}`); process.exit(1); });
