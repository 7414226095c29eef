import { useLive } from '../api/store';
import type { Cell, ShardMap } from '../api/types';
import { Age, PageHeader, Table } from '../components/common';
import { ShardMapPanel } from '../components/shardmap';
import { Empty, ErrorBox, Loading } from '../components/states';
import { colorMap } from '../lib/colors';
import { formatTime } from '../lib/time';
import { href } from '../router';

export function ShardMapPage({ params }: { params: Record<string, string> }) {
  const shardMaps = useLive<ShardMap>({ plural: 'shardmaps' });
  const cells = useLive<Cell>({ plural: 'cells' });
  const sm = shardMaps.items.find((s) => s.metadata.name === params.name);
  const colors = colorMap(cells.items.filter((c) => c.spec.type === 'RZone').map((c) => c.metadata.name));
  return (
    <>
      <PageHeader title={`ShardMap ${params.name}`}>
        <a href={href('/audit', { resource: 'shardmaps', name: params.name })}>audit log</a>
      </PageHeader>
      <ErrorBox error={shardMaps.error} title="Live updates interrupted, retrying" />
      {!shardMaps.loaded ? (
        <Loading what="shard map" />
      ) : !sm ? (
        <Empty>No ShardMap named {params.name}.</Empty>
      ) : (
        <div class="two-col">
          <section class="panel">
            <ShardMapPanel shardMap={sm} cells={cells.items} colors={colors} />
          </section>
          <section class="panel">
            <h3>History</h3>
            <Table
              rows={[...(sm.status?.history ?? [])].reverse()}
              rowKey={(h) => String(h.version)}
              testId="shardmap-history"
              columns={[
                { title: 'Version', render: (h) => h.version },
                { title: 'When', render: (h) => <span title={formatTime(h.time)}><Age iso={h.time} /> ago</span> },
                { title: 'Who', render: (h) => h.user ?? '' },
                { title: 'Change', render: (h) => <span class="mono small">{h.change ?? ''}</span> },
                { title: 'Reason', render: (h) => h.reason ?? '' },
              ]}
            />
            <h3>Assignments</h3>
            <Table rows={sm.spec.assignments} rowKey={(a) => a.cell} columns={[{ title: 'Cell', render: (a) => a.cell }, { title: 'Buckets', render: (a) => <span class="mono">{a.buckets}</span> }]} />
          </section>
        </div>
      )}
    </>
  );
}
