// The ShardMap as a grid of buckets coloured by owning cell, and moving buckets between cells:
// select (click, shift-click for a range, drag) → target cell → preview (validated by the
// server with dryRun) → confirm by typing the target's name → PUT with a reason → *pending*
// until every reachable proxy acked the new version (status.rollout) → *done*, with the
// per-datacenter ack times.

import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import { can } from '../api/session';
import { useSession } from '../api/store';
import type { Cell, ShardMap } from '../api/types';
import { formatRanges, ownerOf, planMove, type MovePlan } from '../lib/buckets';
import { formatTime } from '../lib/time';
import { Age, Badge } from './common';
import { ConfirmDialog } from './confirm';
import { ErrorBox } from './states';

const MAX_GRID = 5000; // above this, a summary instead of one square per bucket

export function ShardMapGrid({
  shardMap,
  colors,
  selected,
  onSelect,
}: {
  shardMap: ShardMap;
  colors: Map<string, string>;
  selected?: Set<number>;
  onSelect?: (next: Set<number>) => void;
}) {
  const owners = ownerOf(shardMap);
  const anchor = useRef<number | null>(null);
  const drag = useRef<{ adding: boolean } | null>(null);
  useEffect(() => {
    const up = () => (drag.current = null);
    window.addEventListener('mouseup', up);
    return () => window.removeEventListener('mouseup', up);
  }, []);
  if (owners.length > MAX_GRID) {
    return <p class="muted">{owners.length} buckets: too many to draw one by one; see the assignments below.</p>;
  }
  const cols = owners.length <= 100 ? 20 : owners.length <= 1000 ? 40 : 80;
  const down = (i: number, e: MouseEvent) => {
    if (!onSelect || !selected) return;
    e.preventDefault();
    const next = new Set(selected);
    if (e.shiftKey && anchor.current !== null) {
      const [a, b] = anchor.current < i ? [anchor.current, i] : [i, anchor.current];
      for (let k = a; k <= b; k++) next.add(k);
    } else {
      const adding = !next.has(i);
      if (adding) next.add(i);
      else next.delete(i);
      drag.current = { adding };
      anchor.current = i;
    }
    onSelect(next);
  };
  const enter = (i: number) => {
    if (!onSelect || !selected || !drag.current) return;
    const next = new Set(selected);
    if (drag.current.adding) next.add(i);
    else next.delete(i);
    onSelect(next);
  };
  return (
    <div class={`bucket-grid ${onSelect ? 'selectable' : ''}`} style={{ gridTemplateColumns: `repeat(${cols}, 1fr)` }} data-testid="bucket-grid" role="grid">
      {owners.map((o, i) => (
        <div
          key={i}
          class={`bucket ${selected?.has(i) ? 'selected' : ''} ${o ? '' : 'unowned'}`}
          style={{ background: o ? colors.get(o) : undefined }}
          title={`bucket ${i}: ${o ?? 'no owner'}`}
          data-bucket={i}
          data-owner={o ?? ''}
          onMouseDown={(e) => down(i, e as unknown as MouseEvent)}
          onMouseEnter={() => enter(i)}
        >
          {owners.length <= 100 ? i : ''}
        </div>
      ))}
    </div>
  );
}

export function Legend({ shardMap, colors }: { shardMap: ShardMap; colors: Map<string, string> }) {
  const owners = ownerOf(shardMap);
  const cells = [...new Set(owners.filter(Boolean) as string[])].sort();
  const unowned = owners.filter((o) => !o).length;
  return (
    <ul class="legend" data-testid="legend">
      {cells.map((c) => (
        <li key={c} data-legend={c}>
          <span class="swatch" style={{ background: colors.get(c) }} /> {c} <span class="muted">({owners.filter((o) => o === c).length})</span>
        </li>
      ))}
      {unowned > 0 && <li class="muted">unowned: {unowned}</li>}
    </ul>
  );
}

/** Rollout of the current version: pending (with counts) or done (with per-datacenter times). */
export function RolloutStatus({ shardMap, since }: { shardMap: ShardMap; since?: number }) {
  const v = shardMap.status?.version;
  const r = shardMap.status?.rollout;
  const waitingFor = since ?? v;
  if (!r || r.version === undefined || (waitingFor !== undefined && r.version < waitingFor) || r.version !== v) {
    return (
      <div class="rollout pending" data-testid="rollout" data-state="pending">
        <Badge tone="warn">pending</Badge> version {v ?? '—'}: waiting for the mesh control plane to report the rollout
        {r?.version !== undefined && <span class="muted"> (last report: version {r.version})</span>}
      </div>
    );
  }
  const done = !!r.done;
  return (
    <div class={`rollout ${done ? 'done' : 'pending'}`} data-testid="rollout" data-state={done ? 'done' : 'pending'}>
      <Badge tone={done ? 'ok' : 'warn'}>{done ? 'done' : 'pending'}</Badge> version {r.version}: {r.proxiesAcked ?? 0}/{r.proxiesTotal ?? 0} connected proxies acked
      {(r.proxiesTotal ?? 0) === 0 && <span class="muted"> (no proxies connected: nothing to wait for)</span>}
      {r.updateTime && (
        <span class="muted small">
          {' '}
          · reported <Age iso={r.updateTime} /> ago
        </span>
      )}
      {(r.datacenters ?? []).length > 0 && (
        <table class="compact rollout-dcs" data-testid="rollout-datacenters">
          <thead>
            <tr>
              <th>Datacenter</th>
              <th>Acked</th>
              <th>All acked at</th>
            </tr>
          </thead>
          <tbody>
            {r.datacenters!.map((d) => (
              <tr key={d.name} data-datacenter={d.name}>
                <td>{d.name}</td>
                <td>
                  {d.acked ?? 0}/{d.total ?? 0}
                </td>
                <td>{d.time ? formatTime(d.time) : <Badge tone="warn">waiting</Badge>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function PlanTable({ plan }: { plan: MovePlan }) {
  return (
    <>
      <p>
        Move <strong>{plan.moved.length}</strong> bucket{plan.moved.length === 1 ? '' : 's'} to <strong>{plan.target}</strong>:
      </p>
      <table class="compact" data-testid="move-preview">
        <thead>
          <tr>
            <th>From</th>
            <th>To</th>
            <th>Buckets</th>
            <th>Count</th>
          </tr>
        </thead>
        <tbody>
          {plan.from.map((f) => (
            <tr key={f.cell}>
              <td>{f.cell}</td>
              <td>{plan.target}</td>
              <td class="mono">{formatRanges(f.buckets)}</td>
              <td>{f.buckets.length}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <table class="compact" data-testid="move-counts">
        <thead>
          <tr>
            <th>Cell</th>
            <th>Buckets before</th>
            <th>after</th>
          </tr>
        </thead>
        <tbody>
          {plan.counts
            .filter((c) => c.before !== c.after)
            .map((c) => (
              <tr key={c.cell}>
                <td>{c.cell}</td>
                <td>{c.before}</td>
                <td>
                  {c.after} <span class={c.after > c.before ? 'ok' : 'bad'}>({c.after > c.before ? '+' : ''}{c.after - c.before})</span>
                </td>
              </tr>
            ))}
        </tbody>
      </table>
    </>
  );
}

const same = (a: MovePlan, b: MovePlan) => JSON.stringify(a.from) === JSON.stringify(b.from) && a.target === b.target;

/** The grid plus, for admins, the move workflow. */
export function ShardMapPanel({ shardMap, cells, colors }: { shardMap: ShardMap; cells: Cell[]; colors: Map<string, string> }) {
  const { client, me } = useSession();
  const mayMove = can(me.role, 'move-buckets');
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [target, setTarget] = useState('');
  const [reason, setReason] = useState('');
  const [plan, setPlan] = useState<MovePlan | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [tracking, setTracking] = useState<{ version: number; summary: string } | null>(null);
  const ref = { plural: 'shardmaps' };
  const targets = cells.filter((c) => c.spec.type === 'RZone').sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));

  const preview = async () => {
    setError(null);
    setNotice(null);
    const p = planMove(shardMap, selected, target);
    if (p.moved.length === 0) {
      setError(new Error(`every selected bucket already belongs to ${target}`));
      return;
    }
    setBusy(true);
    try {
      // The server validates the result (cells exist, Active RZone, every bucket owned once)
      // without writing anything.
      await client.update({ plural: 'shardmaps' }, { ...shardMap, spec: { ...shardMap.spec, assignments: p.assignments, reason } }, { dryRun: 'All' });
      setPlan(p);
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };

  const apply = async () => {
    if (!plan) return;
    setBusy(true);
    setError(null);
    let current = shardMap;
    try {
      for (let attempt = 0; ; attempt++) {
        const p = planMove(current, selected, target);
        if (!same(p, plan)) {
          // Someone changed the map since the preview: show the new preview, write nothing.
          setPlan(p.moved.length ? p : null);
          setNotice('The ShardMap changed since the preview. Review the new preview and confirm again.');
          return;
        }
        try {
          const updated = await client.update<ShardMap>(ref, { ...current, spec: { ...current.spec, assignments: p.assignments, reason } });
          setTracking({ version: updated.status?.version ?? 0, summary: `${p.moved.length} buckets (${formatRanges(p.moved)}) → ${p.target}` });
          setPlan(null);
          setSelected(new Set());
          setReason('');
          return;
        } catch (e) {
          if (e instanceof ApiError && e.code === 409 && attempt < 3) {
            current = await client.get<ShardMap>(ref, shardMap.metadata.name);
            continue;
          }
          throw e;
        }
      }
    } catch (e) {
      setError(e as Error);
      setPlan(null);
    } finally {
      setBusy(false);
    }
  };

  const owners = ownerOf(shardMap);
  return (
    <div class="shardmap-panel" data-testid="shardmap-panel">
      <ShardMapGrid shardMap={shardMap} colors={colors} selected={mayMove ? selected : undefined} onSelect={mayMove ? setSelected : undefined} />
      <Legend shardMap={shardMap} colors={colors} />
      {tracking ? (
        <div class="move-tracking" data-testid="move-tracking">
          <p>
            Moved {tracking.summary}{' '}
            <button class="outline secondary small" onClick={() => setTracking(null)}>
              dismiss
            </button>
          </p>
          <RolloutStatus shardMap={shardMap} since={tracking.version} />
        </div>
      ) : (
        <RolloutStatus shardMap={shardMap} />
      )}
      {mayMove && (
        <form
          class="move-form"
          data-testid="move-form"
          onSubmit={(e) => {
            e.preventDefault();
            void preview();
          }}
        >
          <div class="row">
            <span>
              <strong>{selected.size}</strong> selected
              {selected.size > 0 && <span class="mono small"> ({formatRanges(selected)})</span>}
            </span>
            <button type="button" class="outline secondary small" disabled={selected.size === 0} onClick={() => setSelected(new Set())}>
              clear
            </button>
          </div>
          <div class="row">
            <select name="target" value={target} onChange={(e) => setTarget((e.target as HTMLSelectElement).value)} required aria-label="Target cell">
              <option value="">move to cell…</option>
              {targets.map((c) => (
                <option key={c.metadata.name} value={c.metadata.name} disabled={c.status?.phase !== 'Active'}>
                  {c.metadata.name} ({owners.filter((o) => o === c.metadata.name).length}){c.status?.phase !== 'Active' ? ` — ${c.status?.phase ?? 'Pending'}` : ''}
                </option>
              ))}
            </select>
            <input name="reason" placeholder="reason (recorded in the history)" value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} required />
            <button type="submit" disabled={selected.size === 0 || !target || !reason.trim() || busy} aria-busy={busy && !plan ? 'true' : undefined} data-testid="move-preview-button">
              Preview move
            </button>
          </div>
          {notice && <p class="notice">{notice}</p>}
          <ErrorBox error={error} title="The move was refused" />
        </form>
      )}
      {plan && (
        <ConfirmDialog title={`Move buckets to ${plan.target}`} typeToConfirm={plan.target} confirmLabel="Move buckets" busy={busy} onConfirm={() => void apply()} onCancel={() => setPlan(null)}>
          <PlanTable plan={plan} />
          <p class="small">
            Reason: <em>{reason}</em>. Users of these buckets are routed to <strong>{plan.target}</strong> as soon as the proxies ack the new version.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}
