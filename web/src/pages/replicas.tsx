import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import { useLive, useSession } from '../api/store';
import type { Replica } from '../api/types';
import { Age, Badge, KeyValues, PageHeader, Table, type Tone } from '../components/common';
import { Empty, ErrorBox, LiveStates, Loading } from '../components/states';
import { href, navigate } from '../router';

export function stateTone(s: string | undefined): Tone {
  switch (s) {
    case 'Ready':
      return 'ok';
    case 'Running':
    case 'Starting':
      return 'info';
    case 'BackOff':
    case 'Failed':
      return 'bad';
    default:
      return 'warn';
  }
}

export function ReplicaTable({ replicas }: { replicas: Replica[] }) {
  return (
    <Table
      rows={replicas}
      rowKey={(r) => `${r.metadata.namespace}/${r.metadata.name}`}
      testId="replicas-table"
      onRowClick={(r) => navigate(`/replicas/${r.metadata.namespace}/${r.metadata.name}`)}
      columns={[
        { title: 'Name', render: (r) => <a href={href(`/replicas/${r.metadata.namespace}/${r.metadata.name}`)}>{r.metadata.name}</a> },
        { title: 'Cell', render: (r) => r.spec.cell },
        { title: 'Cluster', render: (r) => r.spec.cluster },
        { title: 'Datacenter', render: (r) => r.spec.zone ?? '—' },
        { title: 'State', render: (r) => <Badge tone={stateTone(r.status?.state)} title={r.status?.message}>{r.status?.state ?? 'Unknown'}</Badge> },
        { title: 'Endpoint', render: (r) => <span class="mono">{r.status?.endpoint ?? '—'}</span> },
        { title: 'Restarts', render: (r) => r.status?.restarts ?? 0 },
        { title: 'Started', render: (r) => <Age iso={r.status?.startedAt} /> },
      ]}
    />
  );
}

export function ReplicasPage({ query }: { query: URLSearchParams }) {
  const replicas = useLive<Replica>({ plural: 'replicas' });
  const filter = query.get('q') ?? '';
  const rows = replicas.items.filter((r) => !filter || `${r.metadata.namespace}/${r.metadata.name}`.includes(filter));
  return (
    <>
      <PageHeader title="Replicas">
        <input type="search" placeholder="filter by name" value={filter} onInput={(e) => navigate('/replicas', { q: (e.target as HTMLInputElement).value }, true)} aria-label="Filter replicas" />
      </PageHeader>
      <LiveStates {...replicas} count={rows.length} what="replicas" empty={filter ? `No replica matches "${filter}".` : 'No replicas: no application is placed yet.'}>
        <ReplicaTable replicas={rows} />
      </LiveStates>
    </>
  );
}

export function ReplicaPage({ params }: { params: Record<string, string> }) {
  const { namespace, name } = params;
  const { client } = useSession();
  const replicas = useLive<Replica>({ plural: 'replicas', namespace });
  const r = replicas.items.find((x) => x.metadata.name === name);
  const [tail, setTail] = useState(200);
  const [follow, setFollow] = useState(false);
  const [log, setLog] = useState<{ text: string | null; error: ApiError | null; loading: boolean; at?: Date }>({ text: null, error: null, loading: true });
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    const ac = new AbortController();
    setLog((l) => ({ ...l, loading: true }));
    client.replicaLog(namespace, name, tail, ac.signal).then(
      (text) => setLog({ text, error: null, loading: false, at: new Date() }),
      (e) => {
        if (ac.signal.aborted) return;
        setLog((l) => ({ text: l.text, error: e instanceof ApiError ? e : new ApiError(0, 'Error', String(e)), loading: false, at: l.at }));
      },
    );
    return () => ac.abort();
  }, [namespace, name, tail, nonce]);
  useEffect(() => {
    if (!follow) return;
    const t = setInterval(() => setNonce((n) => n + 1), 3000);
    return () => clearInterval(t);
  }, [follow]);
  return (
    <>
      <PageHeader title={`Replica ${name}`} />
      {!replicas.loaded ? (
        <Loading what="replica" />
      ) : !r ? (
        <Empty>No replica {namespace}/{name} (it may have been removed).</Empty>
      ) : (
        <section class="panel">
          <KeyValues
            items={[
              ['Application', <a href={href(`/applications/${namespace}/${r.spec.application}`)}>{namespace}/{r.spec.application}</a>],
              ['Where', `cell ${r.spec.cell} · cluster ${r.spec.cluster} · ${r.spec.zone ?? ''} ${r.spec.region ?? ''}`],
              ['State', <><Badge tone={stateTone(r.status?.state)}>{r.status?.state ?? 'Unknown'}</Badge> {r.status?.message ?? ''}</>],
              ['Endpoint', <span class="mono">{r.status?.endpoint ?? '—'}</span>],
              ['Revision', <span class="mono">{r.spec.revision}</span>],
              ['Restarts', `${r.status?.restarts ?? 0}${r.status?.lastExitCode !== undefined ? ` (last exit ${r.status.lastExitCode})` : ''}`],
            ]}
          />
        </section>
      )}
      <section class="panel">
        <header class="panel-header">
          <h3>Recent log</h3>
          <div class="row">
            <label class="inline">
              lines
              <select value={tail} onChange={(e) => setTail(Number((e.target as HTMLSelectElement).value))}>
                {[50, 200, 1000, 5000].map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </label>
            <label class="inline">
              <input type="checkbox" role="switch" checked={follow} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} /> refresh every 3 s
            </label>
            <button class="outline small" onClick={() => setNonce((n) => n + 1)} aria-busy={log.loading ? 'true' : undefined}>
              Refresh
            </button>
          </div>
        </header>
        <ErrorBox error={log.error} title="Cannot fetch the log (through the replica's agent)" />
        {log.text === null && log.loading && <Loading what="log" />}
        {log.text !== null && (log.text === '' ? <Empty>The log is empty.</Empty> : <pre class="log" data-testid="replica-log">{log.text}</pre>)}
        {log.at && <p class="muted small">fetched {log.at.toLocaleTimeString(undefined, { hour12: false })}</p>}
      </section>
    </>
  );
}
