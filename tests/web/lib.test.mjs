// Unit tests of the console's pure logic (bucket ranges, move plans, traffic grouping), with
// node's test runner. The TypeScript sources are bundled with esbuild (a dependency of Vite).
//   node tests/web/lib.test.mjs

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(ROOT, 'web', 'package.json'));
const esbuild = require('esbuild');

async function load(rel) {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-web-lib-')), 'm.mjs');
  await esbuild.build({ entryPoints: [path.join(ROOT, 'web', 'src', rel)], bundle: true, format: 'esm', platform: 'node', outfile: out, logLevel: 'error' });
  try {
    return await import(pathToFileURL(out).href);
  } finally {
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  }
}

const { parseRanges, formatRanges, ownerOf, planMove } = await load('lib/buckets.ts');
const { aggregate } = await load('lib/traffic.ts');

const sm = (assignments, bucketCount = 100) => ({ metadata: { name: 'default' }, spec: { bucketCount, assignments } });

test('ranges parse and format', () => {
  assert.deepEqual(parseRanges('0-3, 7,9-9'), [0, 1, 2, 3, 7, 9]);
  assert.equal(formatRanges([9, 0, 1, 2, 3, 7, 2]), '0-3,7,9');
  assert.equal(formatRanges([]), '');
  assert.throws(() => parseRanges('5-2'));
  assert.throws(() => parseRanges('a'));
});

test('owners per bucket', () => {
  const o = ownerOf(sm([{ cell: 'a', buckets: '0-1' }, { cell: 'b', buckets: '3' }], 5));
  assert.deepEqual(o, ['a', 'a', undefined, 'b', undefined]);
});

test('a move plan lists what changes and keeps the assignment order', () => {
  const m = sm([{ cell: 'rz-a', buckets: '0-39' }, { cell: 'rz-b', buckets: '40-69' }, { cell: 'rz-c', buckets: '70-99' }]);
  const p = planMove(m, [30, 31, 39, 45, 70, 35], 'rz-b');
  assert.deepEqual(p.moved, [30, 31, 35, 39, 70]); // 45 is rz-b's already
  assert.deepEqual(p.from, [{ cell: 'rz-a', buckets: [30, 31, 35, 39] }, { cell: 'rz-c', buckets: [70] }]);
  assert.deepEqual(p.counts, [
    { cell: 'rz-a', before: 40, after: 36 },
    { cell: 'rz-b', before: 30, after: 35 },
    { cell: 'rz-c', before: 30, after: 29 },
  ]);
  assert.deepEqual(p.assignments, [
    { cell: 'rz-a', buckets: '0-29,32-34,36-38' },
    { cell: 'rz-b', buckets: '30-31,35,39-70' },
    { cell: 'rz-c', buckets: '71-99' },
  ]);
});

test('a cell left without buckets is dropped; a new target is appended', () => {
  const m = sm([{ cell: 'a', buckets: '0-4' }, { cell: 'b', buckets: '5-9' }], 10);
  const p = planMove(m, [5, 6, 7, 8, 9], 'c');
  assert.deepEqual(p.assignments, [{ cell: 'a', buckets: '0-4' }, { cell: 'c', buckets: '5-9' }]);
  assert.deepEqual(planMove(m, [0, 1], 'a').moved, []);
});

test('traffic is summed per group, the error rate weighted by requests', () => {
  const t0 = '2026-01-01T00:00:00Z';
  const t1 = '2026-01-01T00:00:02Z';
  const series = [
    { datacenter: 'dc-a', cell: 'rz-a', revision: 'v1', application: 'x/y', points: [{ t: t0, rps: 10, errorRate: 0.1 }, { t: t1, rps: 20, errorRate: 0 }] },
    { datacenter: 'dc-a', cell: 'rz-b', revision: 'v2', application: 'x/y', points: [{ t: t0, rps: 30, errorRate: 0.5 }] },
    { datacenter: 'dc-b', cell: 'rz-c', revision: 'v1', application: 'x/y', points: [{ t: t1, rps: 5, errorRate: 0 }] },
  ];
  const a = aggregate(series, 'datacenter');
  assert.deepEqual(a.times, [Date.parse(t0) / 1000, Date.parse(t1) / 1000]);
  assert.deepEqual(a.groups.map((g) => g.name), ['dc-a', 'dc-b']);
  assert.deepEqual(a.groups[0].rps, [40, 20]);
  assert.ok(Math.abs(a.groups[0].err[0] - 40) < 1e-9); // (1 + 15) / 40 = 40 %
  assert.deepEqual(a.groups[1].rps, [null, 5]); // a gap, not a zero
  assert.deepEqual(aggregate(series, 'revision').groups.map((g) => g.name), ['v1', 'v2']);
});
