// A throwaway local federation for the console's browser tests, started the way
// deploy/up.sh starts one but isolated: its own PostgreSQL (Unix socket in a temp dir), its own
// CA, tessera-server on 127.0.0.1:0 (HTTPS; agents and proxies on :0 too), three agents for
// dc-a, dc-b (region-1) and dc-c (region-2), the cells and the ShardMap of docs/examples/, and
// the demo application (two replicas per RZone cell). Every wait has a deadline.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const isRoot = process.getuid?.() === 0;

function log(msg) {
  process.stderr.write(`[federation] ${msg}\n`);
}

function run(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

const asPg = (argv) => (isRoot ? ['runuser', '-u', 'postgres', '--', ...argv] : argv);

/** Polls fn until it returns a truthy value; throws with `what` after `ms`. */
export async function waitFor(what, fn, ms = 60000, every = 200) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export class Federation {
  constructor({ root, buildDir, webRoot }) {
    this.root = root;
    this.buildDir = buildDir;
    this.webRoot = webRoot;
    this.children = [];
  }

  /** HTTPS request to the API with the given token; resolves {status, body (parsed if JSON)}. */
  request(method, p, { token = this.adminToken, body } = {}) {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(
        { host: '127.0.0.1', port: this.port, method, path: p, ca: this.ca, timeout: 15000, headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(data ? { 'Content-Type': 'application/json' } : {}) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (text += c));
          res.on('end', () => {
            let parsed = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              /* text */
            }
            resolve({ status: res.statusCode, body: parsed });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${p} timed out`)));
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  }

  async ok(method, p, body, token) {
    const r = await this.request(method, p, { body, token });
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body).slice(0, 400)}`);
    return r.body;
  }

  get url() {
    return `https://127.0.0.1:${this.port}`;
  }

  async start() {
    // TESSERA_{SERVER,AGENT,DEMO_APP}_BIN override single binaries (development).
    const server = process.env.TESSERA_SERVER_BIN ?? path.join(this.buildDir, 'tessera-server');
    const agent = process.env.TESSERA_AGENT_BIN ?? path.join(this.buildDir, 'federation', 'tessera-agent');
    const demo = process.env.TESSERA_DEMO_APP_BIN ?? path.join(this.buildDir, 'federation', 'demo_app', 'tessera-demo-app');
    this.demoDir = path.dirname(demo);
    for (const f of [server, agent, demo]) if (!fs.existsSync(f)) throw new Error(`${f} is not built`);
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-web-'));
    fs.chmodSync(this.dir, 0o755);
    log(`state in ${this.dir}`);

    // PostgreSQL, as deploy/up.sh runs it (as the postgres user when we are root).
    this.pgDir = path.join(this.dir, 'pg');
    fs.mkdirSync(this.pgDir);
    if (isRoot) run(['chown', 'postgres:postgres', this.pgDir]);
    run(asPg([`${PG_BIN}/initdb`, '-D', `${this.pgDir}/data`, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']));
    run(asPg([`${PG_BIN}/pg_ctl`, '-D', `${this.pgDir}/data`, '-l', `${this.pgDir}/postgres.log`, '-w', '-t', '60', '-o', `-k ${this.pgDir} -c listen_addresses='' -p 5432`, 'start']));
    this.pgStarted = true;
    run([`${PG_BIN}/createdb`, '-h', this.pgDir, '-p', '5432', '-U', 'postgres', 'tessera']);

    // The CA and the server certificate, with deploy/pki.sh.
    const pki = path.join(this.dir, 'pki');
    run(['bash', '-c', `source "${this.root}/deploy/lib.sh" && source "${this.root}/deploy/pki.sh" && ensure_local_pki "$1"`, 'pki', pki]);
    this.ca = fs.readFileSync(path.join(pki, 'ca.crt'));

    const help = spawnSync(server, ['--help'], { encoding: 'utf8' }).stdout ?? '';
    const args = [
      '--listen', '127.0.0.1:0', '--agent-listen', '127.0.0.1:0',
      '--db', `host=${this.pgDir} port=5432 user=postgres dbname=tessera`,
      '--tls-cert', path.join(pki, 'server.crt'), '--tls-key', path.join(pki, 'server.key'), '--tls-ca', path.join(pki, 'ca.crt'),
      '--admin-kubeconfig', path.join(this.dir, 'kubeconfig'),
      '--port-file', path.join(this.dir, 'server.port'), '--agent-port-file', path.join(this.dir, 'agent.port'),
    ];
    if (help.includes('--mesh-listen')) args.push('--mesh-listen', '127.0.0.1:0');
    if (help.includes('--web-root') && this.webRoot) args.push('--web-root', this.webRoot);
    this.serverLog = path.join(this.dir, 'server.log');
    this.server = this.spawn(server, args, this.serverLog);
    this.port = Number(await waitFor('tessera-server to serve', () => {
      if (this.server.exitCode !== null) throw new Error(`tessera-server exited: ${this.tail(this.serverLog)}`);
      return fs.existsSync(path.join(this.dir, 'server.port')) && fs.readFileSync(path.join(this.dir, 'server.port'), 'utf8').trim();
    }, 60000));
    const agentPort = Number(fs.readFileSync(path.join(this.dir, 'agent.port'), 'utf8').trim());
    this.adminToken = /token:\s*(\S+)/.exec(fs.readFileSync(path.join(this.dir, 'kubeconfig'), 'utf8'))[1];
    log(`tessera-server on ${this.url} (agents :${agentPort})`);

    // Cells and the ShardMap (docs/examples/cells.yaml, shardmap.yaml).
    const cell = (name, spec) => ({ apiVersion: 'tessera.io/v1', kind: 'Cell', metadata: { name }, spec });
    for (const c of [
      cell('rz-a', { type: 'RZone', region: 'region-1', clusters: ['cluster-a'], standby: 'rz-b' }),
      cell('rz-b', { type: 'RZone', region: 'region-1', clusters: ['cluster-b'], standby: 'rz-a' }),
      cell('rz-c', { type: 'RZone', region: 'region-2', clusters: ['cluster-c'], standby: 'rz-a' }),
      cell('gz-1', { type: 'GZone', region: 'region-1', clusters: ['cluster-a'] }),
    ]) await this.ok('POST', '/apis/tessera.io/v1/cells', c);
    // The scheduler marks cells Active; the ShardMap needs Active cells.
    await waitFor('cells to be Active', async () => {
      const l = await this.ok('GET', '/apis/tessera.io/v1/cells');
      return l.items.length === 4 && l.items.every((c) => c.status?.phase === 'Active' || c.metadata.name === 'gz-1');
    }, 30000);
    await this.ok('POST', '/apis/tessera.io/v1/shardmaps', {
      apiVersion: 'tessera.io/v1', kind: 'ShardMap', metadata: { name: 'default' },
      spec: { bucketCount: 100, assignments: [{ cell: 'rz-a', buckets: '0-39' }, { cell: 'rz-b', buckets: '40-69' }, { cell: 'rz-c', buckets: '70-99' }], reason: 'initial split of the local federation' },
    });

    // Three agents, one per datacenter, each with a bootstrap token and its own port range.
    const base = 30000 + Math.floor(Math.random() * 30) * 1000;
    const clusters = [['cluster-a', 'region-1', 'dc-a'], ['cluster-b', 'region-1', 'dc-b'], ['cluster-c', 'region-2', 'dc-c']];
    for (const [i, [name, region, zone]] of clusters.entries()) {
      const bt = await this.ok('POST', '/apis/tessera.io/v1/bootstraptokens', { apiVersion: 'tessera.io/v1', kind: 'BootstrapToken', metadata: { generateName: 'web-' }, spec: { cluster: name } });
      const stateDir = path.join(this.dir, 'agents', name);
      fs.mkdirSync(stateDir, { recursive: true });
      const first = base + i * 300;
      this.spawn(agent, ['--server', `127.0.0.1:${agentPort}`, '--ca-file', path.join(pki, 'ca.crt'), '--cluster', name, '--region', region, '--zone', zone, '--runtime', 'process', '--state-dir', stateDir, '--port-range', `${first}-${first + 299}`, '--token', bt.status.token], path.join(this.dir, 'agents', `${name}.log`), true);
    }
    await waitFor('three Ready clusters', async () => {
      const l = await this.ok('GET', '/apis/tessera.io/v1/clusters');
      return l.items.length === 3 && l.items.every((c) => (c.status?.conditions ?? []).some((k) => k.type === 'Ready' && k.status === 'True'));
    }, 60000);

    // The demo application (deploy/demo.yaml).
    await this.ok('POST', '/apis/tessera.io/v1/namespaces/demo/applications', {
      apiVersion: 'tessera.io/v1', kind: 'Application', metadata: { name: 'demo', namespace: 'demo', labels: { team: 'platform' } },
      spec: {
        template: { command: [demo], ports: [{ name: 'http', port: 8080 }], resources: { cpu: '100m', memory: '32Mi' }, readinessProbe: { httpGet: { path: '/healthz' }, periodSeconds: 2 } },
        placement: { cells: { type: 'RZone' }, replicasPerCell: 2 },
      },
    });
    await waitFor('the demo application to have 6 ready replicas', async () => {
      const a = await this.ok('GET', '/apis/tessera.io/v1/namespaces/demo/applications/demo');
      return a.status?.readyReplicas === 6;
    }, 180000);

    // A viewer token for the read-only checks (docs/auth.md).
    const vt = await this.ok('POST', '/apis/tessera.io/v1/apitokens', { apiVersion: 'tessera.io/v1', kind: 'APIToken', metadata: { name: 'vera' }, spec: { user: 'vera', role: 'viewer' } });
    this.viewerToken = vt.status.token;
    log('federation ready');
  }

  spawn(bin, args, logFile, agent = false) {
    const out = fs.openSync(logFile, 'a');
    const env = { ...process.env };
    // Replicas inherit the agent's PATH (as in deploy/up.sh).
    if (agent) env.PATH = `${this.demoDir}:${env.PATH}`;
    const child = spawn(bin, args, { stdio: ['ignore', out, out], env });
    fs.closeSync(out);
    this.children.push(child);
    return child;
  }

  tail(file, lines = 30) {
    try {
      return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Stops everything started (agents first: they stop their replicas), then removes the state. */
  async stop({ keep = false } = {}) {
    const exited = (c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)));
    const stopAll = async (cs) => {
      for (const c of cs) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      const all = Promise.all(cs.map(exited));
      const timer = new Promise((r) => setTimeout(r, 15000, 'timeout'));
      if ((await Promise.race([all, timer])) === 'timeout') for (const c of cs) if (c.exitCode === null) c.kill('SIGKILL');
      await Promise.race([all, new Promise((r) => setTimeout(r, 5000))]);
    };
    const agents = this.children.filter((c) => c !== this.server);
    await stopAll(agents);
    if (this.server) await stopAll([this.server]);
    if (this.pgStarted) spawnSync(asPg([`${PG_BIN}/pg_ctl`, '-D', `${this.pgDir}/data`, '-m', 'fast', '-w', 'stop'])[0], asPg([`${PG_BIN}/pg_ctl`, '-D', `${this.pgDir}/data`, '-m', 'fast', '-w', 'stop']).slice(1));
    if (this.dir && !keep) fs.rmSync(this.dir, { recursive: true, force: true });
    else if (this.dir) log(`kept state in ${this.dir}`);
  }
}
