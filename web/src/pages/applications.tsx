import { useLive } from '../api/store';
import type { Application, Binding, Replica } from '../api/types';
import { Badge, conditionOf, ConditionBadge, Conditions, KeyValues, PageHeader, Table } from '../components/common';
import { Empty, ErrorBox, LiveStates, Loading } from '../components/states';
import { href, navigate } from '../router';
import { ReplicaTable } from './replicas';

const key = (a: { metadata: { namespace?: string; name: string } }) => `${a.metadata.namespace}/${a.metadata.name}`;

export function ApplicationsPage() {
  const apps = useLive<Application>({ plural: 'applications' });
  return (
    <>
      <PageHeader title="Applications" />
      <LiveStates {...apps} count={apps.items.length} what="applications" empty="No applications (kubectl apply -f docs/examples/app.yaml).">
        <Table
          rows={apps.items}
          rowKey={key}
          testId="applications-table"
          onRowClick={(a) => navigate(`/applications/${a.metadata.namespace}/${a.metadata.name}`)}
          columns={[
            { title: 'Namespace', render: (a) => a.metadata.namespace },
            { title: 'Name', render: (a) => <a href={href(`/applications/${a.metadata.namespace}/${a.metadata.name}`)}>{a.metadata.name}</a> },
            { title: 'Ready', render: (a) => `${a.status?.readyReplicas ?? 0}/${a.status?.replicas ?? 0}` },
            { title: 'Cells', render: (a) => (a.status?.cells ?? []).map((c) => `${c.name} ${c.readyReplicas ?? 0}/${c.replicas ?? 0}`).join(', ') || '—' },
            { title: 'Scheduled', render: (a) => <ConditionBadge type="Scheduled" cond={conditionOf(a.status?.conditions, 'Scheduled')} /> },
            { title: 'Status', render: (a) => <ConditionBadge type="Ready" cond={conditionOf(a.status?.conditions, 'Ready')} /> },
            { title: 'Restarts', render: (a) => a.status?.restarts ?? 0 },
          ]}
        />
      </LiveStates>
    </>
  );
}

export function ApplicationPage({ params }: { params: Record<string, string> }) {
  const { namespace, name } = params;
  const apps = useLive<Application>({ plural: 'applications', namespace });
  const bindings = useLive<Binding>({ plural: 'bindings', namespace });
  const replicas = useLive<Replica>({ plural: 'replicas', namespace }, { labelSelector: `tessera.io/application=${name}` });
  const app = apps.items.find((a) => a.metadata.name === name);
  const binding = bindings.items.find((b) => b.spec.application === name) ?? bindings.items.find((b) => b.metadata.name === name);
  if (!apps.loaded) return apps.error ? <ErrorBox error={apps.error} title="Cannot load the application" /> : <Loading what="application" />;
  if (!app) return <Empty>No application {namespace}/{name}.</Empty>;
  const scheduled = conditionOf(app.status?.conditions, 'Scheduled');
  const placementRows = (binding?.spec.placements ?? []).slice().sort((a, b) => (a.cell + a.cluster).localeCompare(b.cell + b.cluster));
  const statusOf = (cell: string, cluster: string) => app.status?.cells?.find((c) => c.name === cell)?.clusters?.find((c) => c.name === cluster);
  return (
    <>
      <PageHeader title={`Application ${namespace}/${name}`}>
        <a href={href('/audit', { resource: 'applications', name })}>audit log</a>
      </PageHeader>
      {scheduled && scheduled.status !== 'True' && (
        <div class="state error" role="alert" data-testid="unschedulable">
          <strong>Not fully scheduled: {scheduled.reason}</strong> — {scheduled.message}
        </div>
      )}
      <div class="two-col">
        <section class="panel">
          <h3>Summary</h3>
          <KeyValues
            items={[
              ['Ready', `${app.status?.readyReplicas ?? 0}/${app.status?.replicas ?? 0} replicas (${app.status?.restarts ?? 0} restarts)`],
              ['Placement', placementText(app)],
              ['Command', <span class="mono small">{[...app.spec.template.command, ...(app.spec.template.args ?? [])].join(' ')}</span>],
              ['Ports', (app.spec.template.ports ?? []).map((p) => `${p.name}:${p.port}`).join(', ') || '—'],
              ['Traffic', app.spec.traffic ? `${app.spec.traffic.pathPrefix ?? '/'}${app.spec.traffic.unitized ? ' (unitized)' : ''}` : 'not routed by the mesh'],
              ['Revisions', (binding?.spec.revisions ?? []).map((r) => r.name).join(', ') || '—'],
            ]}
          />
          <h3>Conditions</h3>
          <Conditions conditions={app.status?.conditions} />
        </section>
        <section class="panel">
          <h3>Placement per cell and cluster</h3>
          {placementRows.length === 0 ? (
            <Empty>{binding ? 'The Binding places no replicas.' : 'No Binding yet: the scheduler has not placed this application.'}</Empty>
          ) : (
            <Table
              rows={placementRows}
              rowKey={(p) => `${p.cell}/${p.cluster}/${p.revision}`}
              testId="placement-table"
              columns={[
                { title: 'Cell', render: (p) => <a href={href('/cells', { name: p.cell })}>{p.cell}</a> },
                { title: 'Cluster', render: (p) => <a href={href('/clusters', { name: p.cluster })}>{p.cluster}</a> },
                { title: 'Revision', render: (p) => <span class="mono small">{p.revision}</span> },
                { title: 'Desired', render: (p) => p.replicas },
                {
                  title: 'Ready',
                  render: (p) => {
                    const s = statusOf(p.cell, p.cluster);
                    const ready = s?.readyReplicas ?? 0;
                    return <Badge tone={ready >= p.replicas ? 'ok' : 'warn'}>{`${ready}/${s?.replicas ?? 0}`}</Badge>;
                  },
                },
              ]}
            />
          )}
        </section>
      </div>
      <section class="panel">
        <h3>Replicas</h3>
        <LiveStates {...replicas} count={replicas.items.length} what="replicas" empty="No replicas reported by the agents yet.">
          <ReplicaTable replicas={replicas.items} />
        </LiveStates>
      </section>
    </>
  );
}

function placementText(a: Application): string {
  const p = a.spec.placement;
  const cells = p.cells.names ? `cells ${p.cells.names.join(', ')}` : p.cells.type ? `every ${p.cells.type} cell` : `cells matching ${JSON.stringify(p.cells.selector?.matchLabels ?? {})}`;
  const count = p.totalReplicas !== undefined ? `${p.totalReplicas} in total` : `${p.replicasPerCell ?? 1} per cell`;
  return `${count}, ${cells}${p.failover?.enabled ? ', failover on' : ''}`;
}
