// Regions → datacenters → clusters → cells, live, with health: a cluster's Ready condition and
// heartbeat age, a cell's phase, its share of buckets.

import type { Cell, Cluster, ShardMap } from '../api/types';
import { ownerOf } from '../lib/buckets';
import { Age, Badge, conditionOf, type Tone } from './common';
import { href } from '../router';

export function phaseTone(phase: string | undefined): Tone {
  switch (phase) {
    case 'Active':
      return 'ok';
    case 'Standby':
      return 'info';
    case 'Draining':
      return 'warn';
    case 'Down':
      return 'bad';
    default:
      return 'muted';
  }
}

export function clusterHealth(c: Cluster): { tone: Tone; label: string; title: string } {
  const ready = conditionOf(c.status?.conditions, 'Ready');
  if (!ready) return { tone: 'muted', label: 'Unknown', title: 'no Ready condition yet' };
  const title = [ready.reason, ready.message].filter(Boolean).join(': ');
  if (ready.status === 'True') return { tone: 'ok', label: 'Ready', title };
  if (ready.status === 'False') return { tone: 'bad', label: ready.reason ?? 'NotReady', title };
  return { tone: 'warn', label: ready.reason ?? 'Unknown', title };
}

export function Topology({ clusters, cells, shardMap, colors }: { clusters: Cluster[]; cells: Cell[]; shardMap?: ShardMap; colors: Map<string, string> }) {
  const owners = shardMap ? ownerOf(shardMap) : [];
  const share = (cell: string) => owners.filter((o) => o === cell).length;
  const byName = new Map(clusters.map((c) => [c.metadata.name, c]));
  // region → zone → clusters
  const regions = new Map<string, Map<string, Cluster[]>>();
  for (const c of clusters) {
    const r = c.spec.region || '(no region)';
    const z = c.spec.zone || '(no datacenter)';
    if (!regions.has(r)) regions.set(r, new Map());
    const zones = regions.get(r)!;
    if (!zones.has(z)) zones.set(z, []);
    zones.get(z)!.push(c);
  }
  const cellZone = (cell: Cell): string | undefined => {
    for (const n of cell.spec.clusters ?? []) {
      const c = byName.get(n);
      if (c) return c.spec.zone;
    }
    return undefined;
  };
  const homeless = cells.filter((c) => !cellZone(c));
  return (
    <div class="topology" data-testid="topology">
      {[...regions.keys()].sort().map((region) => (
        <section class="region" key={region} data-region={region}>
          <h4>{region}</h4>
          <div class="datacenters">
            {[...regions.get(region)!.keys()].sort().map((zone) => {
              const zoneClusters = regions.get(region)!.get(zone)!;
              const zoneCells = cells.filter((c) => cellZone(c) === zone);
              const healthy = zoneClusters.every((c) => clusterHealth(c).tone === 'ok');
              return (
                <div class={`datacenter ${healthy ? '' : 'unhealthy'}`} key={zone} data-testid="datacenter" data-datacenter={zone}>
                  <div class="dc-title">
                    <strong>{zone}</strong> <Badge tone={healthy ? 'ok' : 'bad'}>{healthy ? 'healthy' : 'degraded'}</Badge>
                  </div>
                  <ul class="clusters">
                    {zoneClusters.map((c) => {
                      const h = clusterHealth(c);
                      return (
                        <li key={c.metadata.name} data-cluster={c.metadata.name}>
                          <a href={href('/clusters', { name: c.metadata.name })}>{c.metadata.name}</a> <Badge tone={h.tone} title={h.title}>{h.label}</Badge>{' '}
                          <span class="muted small">
                            ♥ <Age iso={c.status?.lastHeartbeatTime} warnAfter={45} badAfter={90} />
                          </span>
                        </li>
                      );
                    })}
                  </ul>
                  <ul class="cells">
                    {zoneCells.map((cell) => (
                      <li key={cell.metadata.name} data-cell={cell.metadata.name}>
                        <span class="swatch" style={{ background: colors.get(cell.metadata.name) ?? 'transparent' }} />
                        <a href={href('/cells', { name: cell.metadata.name })}>{cell.metadata.name}</a> <span class="muted small">{cell.spec.type}</span>{' '}
                        <Badge tone={phaseTone(cell.status?.phase)}>{cell.status?.phase ?? 'Pending'}</Badge>
                        {cell.spec.type === 'RZone' && shardMap && <span class="muted small"> {share(cell.metadata.name)} buckets</span>}
                      </li>
                    ))}
                    {zoneCells.length === 0 && <li class="muted small">no cells</li>}
                  </ul>
                </div>
              );
            })}
          </div>
        </section>
      ))}
      {homeless.length > 0 && (
        <section class="region">
          <h4>cells without a registered cluster</h4>
          <ul class="cells">
            {homeless.map((cell) => (
              <li key={cell.metadata.name} data-cell={cell.metadata.name}>
                {cell.metadata.name} <Badge tone={phaseTone(cell.status?.phase)}>{cell.status?.phase ?? 'Pending'}</Badge>{' '}
                <span class="muted small">members: {(cell.spec.clusters ?? []).join(', ') || 'none'}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
