// The audit log, filtered on the server (fieldSelector on user, verb, resource, namespace,
// name, code; since/until) — docs/api.md. AuditEvents cannot be watched: refreshed on demand
// and every 10 s while "live" is on.

import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import { useSession } from '../api/store';
import type { AuditEvent, KubeList } from '../api/types';
import { Badge, PageHeader, Table } from '../components/common';
import { Empty, ErrorBox, Loading } from '../components/states';
import { formatTime, localInputToIso } from '../lib/time';
import { navigate } from '../router';

const FIELDS: [string, string, string][] = [
  ['user', 'user.username', 'user'],
  ['verb', 'verb', 'verb'],
  ['resource', 'objectRef.resource', 'resource (plural)'],
  ['namespace', 'objectRef.namespace', 'namespace'],
  ['name', 'objectRef.name', 'object name'],
  ['code', 'responseStatus.code', 'HTTP code'],
];

export function AuditPage({ query }: { query: URLSearchParams }) {
  const { client } = useSession();
  const filters = Object.fromEntries(FIELDS.map(([k]) => [k, query.get(k) ?? ''])) as Record<string, string>;
  const since = query.get('since') ?? '';
  const until = query.get('until') ?? '';
  const [draft, setDraft] = useState<Record<string, string>>({ ...filters, since, until });
  const [data, setData] = useState<{ items: AuditEvent[]; next?: string; error: ApiError | null; loading: boolean }>({ items: [], error: null, loading: true });
  const [live, setLive] = useState(true);
  const [nonce, setNonce] = useState(0);
  const qkey = query.toString();
  useEffect(() => setDraft({ ...filters, since, until }), [qkey]);

  const fetchPage = async (cont?: string, signal?: AbortSignal) => {
    const fieldSelector = FIELDS.filter(([k]) => filters[k]).map(([k, f]) => `${f}=${filters[k]}`).join(',');
    const q: Record<string, string> = { limit: '200' };
    if (fieldSelector) q.fieldSelector = fieldSelector;
    const s = localInputToIso(since);
    const u = localInputToIso(until);
    if (s) q.since = s;
    if (u) q.until = u;
    if (cont) q.continue = cont;
    return client.json<KubeList<AuditEvent>>('GET', `/apis/tessera.io/v1/auditevents?${new URLSearchParams(q)}`, { signal });
  };

  useEffect(() => {
    const ac = new AbortController();
    setData((d) => ({ ...d, loading: true }));
    fetchPage(undefined, ac.signal).then(
      (l) => setData({ items: l.items ?? [], next: l.metadata?.continue || undefined, error: null, loading: false }),
      (e) => !ac.signal.aborted && setData((d) => ({ ...d, error: e as ApiError, loading: false })),
    );
    return () => ac.abort();
  }, [qkey, nonce]);
  useEffect(() => {
    if (!live) return;
    const t = setInterval(() => setNonce((n) => n + 1), 10000);
    return () => clearInterval(t);
  }, [live]);

  const rows = [...data.items].sort((a, b) => (b.requestReceivedTimestamp ?? '').localeCompare(a.requestReceivedTimestamp ?? ''));
  return (
    <>
      <PageHeader title="Audit log" />
      <form
        class="filters"
        data-testid="audit-filters"
        onSubmit={(e) => {
          e.preventDefault();
          navigate('/audit', draft);
        }}
      >
        {FIELDS.map(([k, , label]) => (
          <input key={k} name={k} placeholder={label} aria-label={label} value={draft[k]} onInput={(e) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value })} />
        ))}
        <label class="inline">
          since <input type="datetime-local" name="since" value={draft.since} onInput={(e) => setDraft({ ...draft, since: (e.target as HTMLInputElement).value })} />
        </label>
        <label class="inline">
          until <input type="datetime-local" name="until" value={draft.until} onInput={(e) => setDraft({ ...draft, until: (e.target as HTMLInputElement).value })} />
        </label>
        <button type="submit" data-testid="audit-apply">
          Filter
        </button>
        <button type="button" class="outline secondary" onClick={() => navigate('/audit', {})}>
          Clear
        </button>
        <label class="inline">
          <input type="checkbox" role="switch" checked={live} onChange={(e) => setLive((e.target as HTMLInputElement).checked)} /> refresh every 10 s
        </label>
      </form>
      <ErrorBox error={data.error} title="Cannot read the audit log" />
      {data.loading && data.items.length === 0 ? (
        <Loading what="audit events" />
      ) : rows.length === 0 ? (
        <Empty>No audit events match.</Empty>
      ) : (
        <>
          <Table
            rows={rows}
            rowKey={(e) => e.metadata.name}
            testId="audit-table"
            columns={[
              { title: 'Time', render: (e) => <span class="nowrap">{formatTime(e.requestReceivedTimestamp)}</span> },
              { title: 'User', render: (e) => <span title={e.user?.role}>{e.user?.username ?? '—'}</span> },
              { title: 'Verb', render: (e) => e.verb },
              {
                title: 'Object',
                render: (e) => (
                  <span class="mono small">
                    {e.objectRef?.resource}
                    {e.objectRef?.namespace ? `/${e.objectRef.namespace}` : ''}
                    {e.objectRef?.name ? `/${e.objectRef.name}` : ''}
                    {e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}
                  </span>
                ),
              },
              {
                title: 'Result',
                render: (e) => {
                  const c = e.responseStatus?.code ?? 0;
                  return <Badge tone={c < 300 ? 'ok' : c < 500 ? 'warn' : 'bad'} title={e.responseStatus?.message}>{c} {e.responseStatus?.reason ?? ''}</Badge>;
                },
              },
              { title: 'Message', render: (e) => <span class="small wrap">{e.responseStatus?.message ?? ''}</span> },
              { title: 'Source', render: (e) => <span class="small">{(e.sourceIPs ?? []).join(', ')}</span> },
            ]}
          />
          {data.next && (
            <button
              class="outline"
              onClick={async () => {
                try {
                  const l = await fetchPage(data.next);
                  setData((d) => ({ ...d, items: [...d.items, ...(l.items ?? [])], next: l.metadata?.continue || undefined }));
                } catch (e) {
                  setData((d) => ({ ...d, error: e as ApiError }));
                }
              }}
            >
              Load more
            </button>
          )}
        </>
      )}
    </>
  );
}
