// Bucket ranges as the ShardMap writes them ("0-39,60"), and the move plan the console shows
// before it writes anything.

import type { ShardMap } from '../api/types';

/** "0-39,60" → [0..39, 60]. Throws on malformed input. */
export function parseRanges(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`bad bucket range "${part}"`);
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a) throw new Error(`bad bucket range "${part}"`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** [0,1,2,5] → "0-2,5" (sorted, unique). */
export function formatRanges(buckets: Iterable<number>): string {
  const xs = [...new Set(buckets)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    parts.push(i === j ? `${xs[i]}` : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** bucket → owning cell (undefined where unowned). */
export function ownerOf(sm: ShardMap): (string | undefined)[] {
  const n = sm.spec.bucketCount ?? 100;
  const owners: (string | undefined)[] = new Array(n).fill(undefined);
  for (const a of sm.spec.assignments ?? []) {
    try {
      for (const b of parseRanges(a.buckets)) if (b < n) owners[b] = a.cell;
    } catch {
      /* the server validated it; skip what we cannot read */
    }
  }
  return owners;
}

export interface MovePlan {
  target: string;
  /** Buckets that actually change owner (already-owned-by-target ones are dropped). */
  moved: number[];
  /** Per source cell: the buckets it loses. */
  from: { cell: string; buckets: number[] }[];
  /** Per cell: count before and after. */
  counts: { cell: string; before: number; after: number }[];
  assignments: { cell: string; buckets: string }[];
}

/** The new assignments when `selected` buckets go to `target`. */
export function planMove(sm: ShardMap, selected: Iterable<number>, target: string): MovePlan {
  const owners = ownerOf(sm);
  const moved = [...new Set(selected)].filter((b) => b >= 0 && b < owners.length && owners[b] !== target).sort((a, b) => a - b);
  const fromMap = new Map<string, number[]>();
  for (const b of moved) {
    const o = owners[b] ?? '(none)';
    if (!fromMap.has(o)) fromMap.set(o, []);
    fromMap.get(o)!.push(b);
  }
  const after = owners.slice();
  for (const b of moved) after[b] = target;
  const cells = new Set<string>([...(sm.spec.assignments ?? []).map((a) => a.cell), target]);
  const counts = [...cells].sort().map((cell) => ({
    cell,
    before: owners.filter((o) => o === cell).length,
    after: after.filter((o) => o === cell).length,
  }));
  // Keep the existing order of assignments; a cell left with no buckets is dropped (every
  // assignment needs buckets), a new target is appended.
  const order = (sm.spec.assignments ?? []).map((a) => a.cell);
  if (!order.includes(target)) order.push(target);
  const assignments = order
    .map((cell) => ({ cell, buckets: formatRanges(after.flatMap((o, i) => (o === cell ? [i] : []))) }))
    .filter((a) => a.buckets !== '');
  return { target, moved, from: [...fromMap].map(([cell, buckets]) => ({ cell, buckets })), counts, assignments };
}
