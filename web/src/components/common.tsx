// Small shared pieces: badges, conditions, live ages, a table, key/value lists.

import { Fragment, type ComponentChildren, type JSX } from 'preact';
import type { Condition } from '../api/types';
import { ageSeconds, formatAge, formatTime } from '../lib/time';
import { useNow } from './clock';

export type Tone = 'ok' | 'warn' | 'bad' | 'muted' | 'info';

export function Badge({ tone, children, title }: { tone: Tone; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge ${tone}`} title={title}>
      {children}
    </span>
  );
}

export function conditionOf(conds: Condition[] | undefined, type: string): Condition | undefined {
  return conds?.find((c) => c.type === type);
}

export function ConditionBadge({ cond, type }: { cond: Condition | undefined; type: string }) {
  if (!cond) return <Badge tone="muted">{type}: —</Badge>;
  const tone: Tone = cond.status === 'True' ? 'ok' : cond.status === 'False' ? 'bad' : 'warn';
  return (
    <Badge tone={tone} title={[cond.reason, cond.message].filter(Boolean).join(': ')}>
      {type === 'Ready' && cond.status === 'True' ? 'Ready' : `${type}: ${cond.status === 'True' ? 'yes' : cond.reason ?? cond.status}`}
    </Badge>
  );
}

export function Conditions({ conditions }: { conditions: Condition[] | undefined }) {
  if (!conditions || conditions.length === 0) return <span class="muted">no conditions</span>;
  return (
    <table class="conditions compact">
      <thead>
        <tr>
          <th>Type</th>
          <th>Status</th>
          <th>Reason</th>
          <th>Message</th>
          <th>Since</th>
        </tr>
      </thead>
      <tbody>
        {conditions.map((c) => (
          <tr key={c.type}>
            <td>{c.type}</td>
            <td>
              <Badge tone={c.status === 'True' ? 'ok' : c.status === 'False' ? 'bad' : 'warn'}>{c.status}</Badge>
            </td>
            <td>{c.reason ?? ''}</td>
            <td class="wrap">{c.message ?? ''}</td>
            <td title={formatTime(c.lastTransitionTime)}>
              <Age iso={c.lastTransitionTime} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** "12s" that ticks; `warnAfter`/`badAfter` seconds colour it. */
export function Age({ iso, warnAfter, badAfter }: { iso: string | undefined; warnAfter?: number; badAfter?: number }) {
  const now = useNow();
  const s = ageSeconds(iso, now);
  const tone = s === undefined ? 'muted' : badAfter !== undefined && s > badAfter ? 'bad' : warnAfter !== undefined && s > warnAfter ? 'warn' : '';
  return (
    <span class={`age ${tone}`} title={formatTime(iso)}>
      {formatAge(s)}
    </span>
  );
}

export interface Column<T> {
  title: string;
  render: (row: T) => ComponentChildren;
  class?: string;
}

export function Table<T>({ rows, columns, rowKey, onRowClick, testId }: { rows: T[]; columns: Column<T>[]; rowKey: (row: T) => string; onRowClick?: (row: T) => void; testId?: string }) {
  return (
    <div class="table-wrap">
      <table class="compact striped" data-testid={testId}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.title} class={c.class}>
                {c.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={rowKey(r)} data-row={rowKey(r)} class={onRowClick ? 'clickable' : undefined} onClick={onRowClick ? () => onRowClick(r) : undefined}>
              {columns.map((c) => (
                <td key={c.title} class={c.class}>
                  {c.render(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function KeyValues({ items }: { items: [string, ComponentChildren][] }) {
  return (
    <dl class="kv">
      {items.map(([k, v]) => (
        <Fragment key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </Fragment>
      ))}
    </dl>
  );
}

export function Resources({ r }: { r: { cpu?: string; memory?: string; pods?: number } | undefined }): JSX.Element {
  if (!r) return <span class="muted">—</span>;
  return (
    <span class="mono">
      {r.cpu ?? '—'} cpu · {r.memory ?? '—'} · {r.pods ?? '—'} pods
    </span>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <header class="page-header">
      <h2>{title}</h2>
      <div class="actions">{children}</div>
    </header>
  );
}
