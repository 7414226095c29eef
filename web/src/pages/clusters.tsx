import { useLive } from '../api/store';
import type { Cluster } from '../api/types';
import { Age, Badge, Conditions, PageHeader, Resources, Table } from '../components/common';
import { LiveStates } from '../components/states';
import { clusterHealth } from '../components/topology';
import { navigate } from '../router';

export function ClustersPage({ query }: { query: URLSearchParams }) {
  const clusters = useLive<Cluster>({ plural: 'clusters' });
  const selected = query.get('name');
  const sel = clusters.items.find((c) => c.metadata.name === selected);
  return (
    <>
      <PageHeader title="Clusters" />
      <LiveStates {...clusters} count={clusters.items.length} what="clusters" empty="No member clusters registered yet (docs/federation.md).">
        <Table
          rows={clusters.items}
          rowKey={(c) => c.metadata.name}
          testId="clusters-table"
          onRowClick={(c) => navigate('/clusters', { name: c.metadata.name })}
          columns={[
            { title: 'Name', render: (c) => <strong>{c.metadata.name}</strong> },
            { title: 'Region', render: (c) => c.spec.region },
            { title: 'Datacenter', render: (c) => c.spec.zone },
            {
              title: 'Ready',
              render: (c) => {
                const h = clusterHealth(c);
                return <Badge tone={h.tone} title={h.title}>{h.label}</Badge>;
              },
            },
            { title: 'Heartbeat', render: (c) => <Age iso={c.status?.lastHeartbeatTime} warnAfter={45} badAfter={90} /> },
            { title: 'Capacity', render: (c) => <Resources r={c.status?.capacity ?? c.spec.capacity} /> },
            { title: 'Allocatable', render: (c) => <Resources r={c.status?.allocatable} /> },
            { title: 'Taints', render: (c) => (c.spec.taints ?? []).map((t) => `${t.key}${t.value ? '=' + t.value : ''}:${t.effect}`).join(', ') || '—' },
          ]}
        />
        {sel && (
          <section class="panel" data-testid="cluster-detail">
            <h3>{sel.metadata.name}: conditions</h3>
            <Conditions conditions={sel.status?.conditions} />
          </section>
        )}
      </LiveStates>
    </>
  );
}
