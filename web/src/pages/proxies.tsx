import { useLive } from '../api/store';
import type { Proxy } from '../api/types';
import { Age, Badge, conditionOf, PageHeader, Table } from '../components/common';
import { LiveStates } from '../components/states';
import { formatTime } from '../lib/time';

const short = (v: string | undefined) => (v ? v.slice(0, 10) : '—');

export function ProxiesPage() {
  const proxies = useLive<Proxy>({ plural: 'proxies' });
  return (
    <>
      <PageHeader title="Proxies" />
      <LiveStates {...proxies} count={proxies.items.length} what="proxies" empty="No proxies have connected to the mesh control plane (docs/mesh-control.md).">
        <Table
          rows={proxies.items}
          rowKey={(p) => p.metadata.name}
          testId="proxies-table"
          columns={[
            { title: 'Name', render: (p) => <strong>{p.metadata.name}</strong> },
            { title: 'Datacenter', render: (p) => p.spec.datacenter ?? '—' },
            { title: 'Role', render: (p) => p.spec.role ?? '—' },
            { title: 'Cell', render: (p) => p.spec.cell || '—' },
            { title: 'Connected', render: (p) => <Badge tone={p.status?.connected ? 'ok' : 'bad'}>{p.status?.connected ? 'yes' : 'no'}</Badge> },
            {
              title: 'In sync',
              render: (p) => {
                const c = conditionOf(p.status?.conditions, 'InSync');
                const inSync = c ? c.status === 'True' : p.status?.ackedVersion !== undefined && p.status?.ackedVersion === p.status?.desiredVersion;
                return <Badge tone={inSync ? 'ok' : c?.reason === 'Nacked' ? 'bad' : 'warn'} title={c?.message}>{inSync ? 'in sync' : c?.reason ?? 'out of sync'}</Badge>;
              },
            },
            { title: 'Acked / desired', render: (p) => <span class="mono small" title={`acked ${p.status?.ackedVersion ?? '—'}\ndesired ${p.status?.desiredVersion ?? '—'}`}>{short(p.status?.ackedVersion)} / {short(p.status?.desiredVersion)}</span> },
            { title: 'Last ack', render: (p) => <Age iso={p.status?.lastAckTime} /> },
            {
              title: 'Last NACK',
              render: (p) => (p.status?.lastNackReason ? <span class="bad small wrap" title={formatTime(p.status.lastNackTime)}>{p.status.lastNackReason} (<Age iso={p.status.lastNackTime} /> ago)</span> : '—'),
            },
            { title: 'Seen', render: (p) => <Age iso={p.status?.lastSeenTime} warnAfter={60} badAfter={120} /> },
          ]}
        />
      </LiveStates>
    </>
  );
}
