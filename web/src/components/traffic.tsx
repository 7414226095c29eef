// Where traffic goes right now: requests/s and error rate per datacenter, cell or revision,
// from the server's scrape of the proxies' stats (GET /apis/traffic.tessera.io/v1/stats),
// polled every 2 s, drawn with uPlot.

import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { useSession, usePoll } from '../api/store';
import type { TrafficStats } from '../api/types';
import { aggregate, type GroupBy } from '../lib/traffic';
import { seriesColor } from '../lib/colors';
import { Empty, ErrorBox, Loading } from './states';

function Chart({ title, data, names, unit, testId }: { title: string; data: uPlot.AlignedData; names: string[]; unit: string; testId: string }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = names.join('|');
  useEffect(() => {
    if (!el.current) return;
    const width = Math.max(280, el.current.clientWidth);
    const opts: uPlot.Options = {
      title,
      width,
      height: 180,
      scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(max, min + 1, unit === '%' ? 5 : 1)] } },
      axes: [{}, { label: unit, size: 50 }],
      series: [{}, ...names.map((n, i) => ({ label: n, stroke: seriesColor(i), width: 2, points: { show: false }, spanGaps: false }))],
      legend: { live: false },
    };
    plot.current = new uPlot(opts, data, el.current);
    const ro = new ResizeObserver(() => {
      if (el.current && plot.current) plot.current.setSize({ width: Math.max(280, el.current.clientWidth), height: 180 });
    });
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape, title]);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  return <div class="chart" ref={el} data-testid={testId} />;
}

export function TrafficPanel() {
  const { client } = useSession();
  const [by, setBy] = useState<GroupBy>('datacenter');
  const stats = usePoll<TrafficStats>((signal) => client.json('GET', '/apis/traffic.tessera.io/v1/stats?window=300', { signal }), 2000);
  let body;
  if (!stats.loaded) body = <Loading what="traffic" />;
  else if (stats.error && !stats.data) {
    body =
      stats.error.code === 404 ? (
        <Empty>This server does not serve traffic stats (GET /apis/traffic.tessera.io/v1/stats answered 404).</Empty>
      ) : (
        <ErrorBox error={stats.error} title="Cannot read traffic stats" />
      );
  } else if (stats.data) {
    const d = stats.data;
    const total = d.proxies?.total ?? 0;
    const series = d.series ?? [];
    if (total === 0) {
      body = (
        <Empty>
          <strong>No proxies.</strong> No tessera-proxy is connected to the mesh control plane, so there is no traffic to show. Start gateway proxies (docs/mesh-control.md) and
          their traffic appears here within seconds.
        </Empty>
      );
    } else {
      const agg = aggregate(series, by);
      const names = agg.groups.map((g) => g.name);
      body = (
        <>
          {stats.error && <ErrorBox error={stats.error} title="Traffic stats stale, retrying" />}
          {(d.proxies?.failed ?? []).length > 0 && (
            <p class="notice small">
              {d.proxies!.failed!.length} of {total} proxies not scraped: {d.proxies!.failed!.map((f) => `${f.name} (${f.reason})`).join('; ')}
            </p>
          )}
          {agg.times.length === 0 ? (
            <Empty>
              {d.proxies?.scraped ?? 0}/{total} proxies scraped; no requests yet.
            </Empty>
          ) : (
            <div class="charts">
              <Chart title={`requests/s by ${by}`} unit="req/s" names={names} data={[agg.times, ...agg.groups.map((g) => g.rps)] as uPlot.AlignedData} testId="chart-rps" />
              <Chart title={`error rate (5xx) by ${by}`} unit="%" names={names} data={[agg.times, ...agg.groups.map((g) => g.err)] as uPlot.AlignedData} testId="chart-errors" />
            </div>
          )}
        </>
      );
    }
  }
  return (
    <section class="panel traffic" data-testid="traffic">
      <header class="panel-header">
        <h3>Traffic now</h3>
        <div role="group" class="segmented">
          {(['datacenter', 'cell', 'revision'] as GroupBy[]).map((g) => (
            <button key={g} class={g === by ? '' : 'outline'} onClick={() => setBy(g)}>
              {g}
            </button>
          ))}
        </div>
      </header>
      {body}
    </section>
  );
}
