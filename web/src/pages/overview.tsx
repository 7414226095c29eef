import { useLive } from '../api/store';
import type { Cell, Cluster, ShardMap } from '../api/types';
import { PageHeader } from '../components/common';
import { ShardMapPanel } from '../components/shardmap';
import { Empty, ErrorBox, Loading } from '../components/states';
import { Topology } from '../components/topology';
import { TrafficPanel } from '../components/traffic';
import { colorMap } from '../lib/colors';
import { href } from '../router';

export function OverviewPage() {
  const clusters = useLive<Cluster>({ plural: 'clusters' });
  const cells = useLive<Cell>({ plural: 'cells' });
  const shardMaps = useLive<ShardMap>({ plural: 'shardmaps' });
  const colors = colorMap(cells.items.filter((c) => c.spec.type === 'RZone').map((c) => c.metadata.name));
  const sm = shardMaps.items.find((s) => s.metadata.name === 'default') ?? shardMaps.items[0];
  return (
    <div class="overview">
      <PageHeader title="Overview" />
      <div class="overview-grid">
        <section class="panel">
          <header class="panel-header">
            <h3>Topology</h3>
            <span class="muted small">regions → datacenters → clusters and cells</span>
          </header>
          <ErrorBox error={clusters.error ?? cells.error} title="Live updates interrupted, retrying" />
          {!clusters.loaded || !cells.loaded ? (
            <Loading what="topology" />
          ) : clusters.items.length === 0 ? (
            !(clusters.error ?? cells.error) && <Empty>No member clusters yet: register one with an agent (docs/federation.md).</Empty>
          ) : (
            <Topology clusters={clusters.items} cells={cells.items} shardMap={sm} colors={colors} />
          )}
        </section>
        <section class="panel">
          <header class="panel-header">
            <h3>ShardMap {sm ? <a href={href(`/shardmaps/${sm.metadata.name}`)}>{sm.metadata.name}</a> : ''}</h3>
            {sm && <span class="muted small">version {sm.status?.version ?? '—'} · {sm.spec.bucketCount ?? 100} buckets</span>}
          </header>
          <ErrorBox error={shardMaps.error} title="Live updates interrupted, retrying" />
          {!shardMaps.loaded ? <Loading what="shard map" /> : !sm ? !shardMaps.error && <Empty>No ShardMap: no cell owns user buckets yet.</Empty> : <ShardMapPanel shardMap={sm} cells={cells.items} colors={colors} />}
        </section>
      </div>
      <TrafficPanel />
    </div>
  );
}
