import { useLive } from '../api/store';
import type { Cell, Cluster, ShardMap } from '../api/types';
import { Badge, Conditions, PageHeader, Table } from '../components/common';
import { LiveStates } from '../components/states';
import { clusterHealth, phaseTone } from '../components/topology';
import { ownerOf } from '../lib/buckets';
import { href, navigate } from '../router';

export function CellsPage({ query }: { query: URLSearchParams }) {
  const cells = useLive<Cell>({ plural: 'cells' });
  const clusters = useLive<Cluster>({ plural: 'clusters' });
  const shardMaps = useLive<ShardMap>({ plural: 'shardmaps' });
  const sm = shardMaps.items.find((s) => s.metadata.name === 'default');
  const owners = sm ? ownerOf(sm) : [];
  const byName = new Map(clusters.items.map((c) => [c.metadata.name, c]));
  const sel = cells.items.find((c) => c.metadata.name === query.get('name'));
  return (
    <>
      <PageHeader title="Cells" />
      <LiveStates {...cells} count={cells.items.length} what="cells" empty="No cells defined (kubectl apply -f docs/examples/cells.yaml).">
        <Table
          rows={cells.items}
          rowKey={(c) => c.metadata.name}
          testId="cells-table"
          onRowClick={(c) => navigate('/cells', { name: c.metadata.name })}
          columns={[
            { title: 'Name', render: (c) => <strong>{c.metadata.name}</strong> },
            { title: 'Type', render: (c) => c.spec.type },
            { title: 'Region', render: (c) => c.spec.region },
            { title: 'Datacenter', render: (c) => (c.spec.clusters ?? []).map((n) => byName.get(n)?.spec.zone).find(Boolean) ?? '—' },
            { title: 'Phase', render: (c) => <Badge tone={phaseTone(c.status?.phase)}>{c.status?.phase ?? 'Pending'}</Badge> },
            {
              title: 'Clusters',
              render: (c) =>
                (c.spec.clusters ?? []).map((n) => {
                  const cl = byName.get(n);
                  const h = cl ? clusterHealth(cl) : { tone: 'bad' as const, label: 'not registered', title: '' };
                  return (
                    <span key={n} class="nowrap">
                      <a href={href('/clusters', { name: n })}>{n}</a> <Badge tone={h.tone}>{h.label}</Badge>{' '}
                    </span>
                  );
                }),
            },
            { title: 'Standby', render: (c) => c.spec.standby ?? '—' },
            { title: 'Buckets', render: (c) => (c.spec.type === 'RZone' && sm ? owners.filter((o) => o === c.metadata.name).length : '—') },
          ]}
        />
        {sel && (
          <section class="panel">
            <h3>{sel.metadata.name}: conditions</h3>
            <Conditions conditions={sel.status?.conditions} />
          </section>
        )}
      </LiveStates>
    </>
  );
}
