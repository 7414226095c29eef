// Traffic series grouped for the charts (pure: unit-tested in tests/web/lib.test.mjs).

import type { TrafficSeries } from '../api/types';

export type GroupBy = 'datacenter' | 'cell' | 'revision';

interface Aggregated {
  times: number[]; // unix seconds
  groups: { name: string; rps: (number | null)[]; err: (number | null)[] }[];
}

/** Sums rps per group and time; the error rate is rps-weighted. */
export function aggregate(series: TrafficSeries[], by: GroupBy): Aggregated {
  const times = new Set<number>();
  const acc = new Map<string, Map<number, { rps: number; errs: number }>>();
  for (const s of series) {
    const g = s[by] || '(none)';
    if (!acc.has(g)) acc.set(g, new Map());
    const m = acc.get(g)!;
    for (const p of s.points) {
      const t = Math.round(Date.parse(p.t) / 1000);
      if (Number.isNaN(t)) continue;
      times.add(t);
      const cur = m.get(t) ?? { rps: 0, errs: 0 };
      cur.rps += p.rps;
      cur.errs += p.rps * p.errorRate;
      m.set(t, cur);
    }
  }
  const ts = [...times].sort((a, b) => a - b);
  const groups = [...acc.keys()].sort().map((name) => {
    const m = acc.get(name)!;
    return {
      name,
      rps: ts.map((t) => (m.has(t) ? m.get(t)!.rps : null)),
      err: ts.map((t) => {
        const v = m.get(t);
        if (!v) return null;
        return v.rps > 0 ? (100 * v.errs) / v.rps : 0;
      }),
    };
  });
  return { times: ts, groups };
}
