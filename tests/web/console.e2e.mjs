// End-to-end test of the web console in real headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) against a local federation this test starts itself
// (federation.mjs): log in, see three datacenters and their cells, open an application and a
// replica's log, move buckets between cells and watch the change become done, find it in the
// audit log, and check that a viewer sees no mutating controls.
//
//   node tests/web/console.e2e.mjs [--build-dir DIR]     (default: <repo>/build)
//
// Needs web/dist (npm ci && npm run build in web/) and the server, agent and demo app built.
// Screenshots: $TESSERA_ARTIFACTS or <build dir>/test-artifacts/console/.
// TESSERA_UPDATE_DOCS_SCREENSHOT=1 also copies the overview to docs/images/console-overview.png.
// TESSERA_KEEP_STATE=1 keeps the federation's temp dir (logs) after the run.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Federation, waitFor } from './federation.mjs';
import { startDevProxy } from './dev-proxy.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const argIdx = process.argv.indexOf('--build-dir');
const BUILD = path.resolve(argIdx > 0 ? process.argv[argIdx + 1] : process.env.TESSERA_BUILD_DIR ?? path.join(ROOT, 'build'));
const DIST = path.join(ROOT, 'web', 'dist');
const ARTIFACTS = path.resolve(process.env.TESSERA_ARTIFACTS ?? path.join(BUILD, 'test-artifacts', 'console'));
const CHROMIUM = process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium';
const STEP = 30000; // the longest any single UI expectation may take

// playwright-core is a devDependency of the console (web/node_modules).
const require = createRequire(path.join(ROOT, 'web', 'package.json'));
const { chromium } = require('playwright-core');

let fed;
let devProxy;
let browser;
let page;
let base;
let failedShots = 0;

async function shot(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

async function login(token, role) {
  await page.goto(`${base}/#/`);
  await page.locator('input[name=token]').fill(token);
  await page.getByTestId('login').click();
  await page.getByTestId('whoami').filter({ hasText: role }).waitFor({ timeout: STEP });
}

describe('web console', { timeout: 600000 }, () => {
  before(async () => {
    for (const f of [path.join(DIST, 'index.html'), CHROMIUM]) {
      if (!fs.existsSync(f)) throw new Error(`${f} is missing (web/: npm ci && npm run build; chromium: ./deploy/setup.sh --no-build)`);
    }
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
    fed = new Federation({ root: ROOT, buildDir: BUILD, webRoot: DIST });
    await fed.start();
    // The console is served by tessera-server at / (no token needed for static files).
    const index = await fed.request('GET', '/', { token: '' });
    const served = index.status === 200 && typeof index.body === 'string' && index.body.includes('id="app"');
    if (served) base = fed.url;
    else if (process.env.TESSERA_CONSOLE_DEV_PROXY === '1') {
      devProxy = await startDevProxy({
        dist: DIST, port: fed.port, ca: fed.ca,
        whoami: {
          [fed.adminToken]: { username: 'admin', groups: ['tessera:role:admin', 'system:authenticated'] },
          [fed.viewerToken]: { username: 'vera', groups: ['tessera:role:viewer', 'system:authenticated'] },
        },
      });
      base = devProxy.url;
    } else {
      throw new Error(`tessera-server does not serve the console at / (GET / answered ${index.status}); set TESSERA_CONSOLE_DEV_PROXY=1 to test the app through a local proxy`);
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 60000,
    });
    // The local federation's certificate is signed by its own throwaway CA.
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, ignoreHTTPSErrors: true });
    page = await context.newPage();
    page.setDefaultTimeout(STEP);
    page.on('pageerror', (e) => process.stderr.write(`[browser] page error: ${e.message}\n`));
    page.on('console', (m) => m.type() === 'error' && process.stderr.write(`[browser] ${m.text()}\n`));
  });

  after(async () => {
    if (page && failedShots > 0) await shot('failure').catch(() => {});
    await browser?.close().catch(() => {});
    await devProxy?.close().catch(() => {});
    if (fed) {
      if (failedShots > 0 || process.env.TESSERA_KEEP_STATE === '1') {
        process.stderr.write(`--- server log (tail) ---\n${fed.tail(fed.serverLog, 40)}\n`);
      }
      await fed.stop({ keep: process.env.TESSERA_KEEP_STATE === '1' });
    }
  });

  // Records a failure screenshot for whichever step fails.
  const step = (name, fn) =>
    test(name, async () => {
      try {
        await fn();
      } catch (e) {
        failedShots++;
        await shot(`failed-${name.replace(/\W+/g, '-')}`).catch(() => {});
        throw e;
      }
    });

  step('an admin logs in and sees three datacenters with their cells', async () => {
    await login(fed.adminToken, 'admin');
    const dcs = page.getByTestId('datacenter');
    await waitFor('three datacenters on the overview', async () => (await dcs.count()) === 3, STEP);
    const cellsOf = async (dc) => page.locator(`[data-datacenter="${dc}"] [data-cell]`).evaluateAll((els) => els.map((e) => e.getAttribute('data-cell')).sort());
    assert.deepEqual(await cellsOf('dc-a'), ['gz-1', 'rz-a']);
    assert.deepEqual(await cellsOf('dc-b'), ['rz-b']);
    assert.deepEqual(await cellsOf('dc-c'), ['rz-c']);
    for (const c of ['cluster-a', 'cluster-b', 'cluster-c']) {
      await page.locator(`[data-cluster="${c}"] .badge.ok`, { hasText: 'Ready' }).waitFor();
    }
    for (const c of ['rz-a', 'rz-b', 'rz-c', 'gz-1']) await page.locator(`[data-cell="${c}"] .badge`, { hasText: 'Active' }).waitFor();
    // The ShardMap grid: 100 buckets coloured by owner, a legend per cell.
    await waitFor('100 buckets in the grid', async () => (await page.locator('[data-bucket]').count()) === 100, STEP);
    assert.equal(await page.locator('[data-bucket="0"]').getAttribute('data-owner'), 'rz-a');
    assert.equal(await page.locator('[data-bucket="99"]').getAttribute('data-owner'), 'rz-c');
    for (const c of ['rz-a', 'rz-b', 'rz-c']) await page.locator(`[data-legend="${c}"]`).waitFor();
    // Traffic: charts or a clear empty state (no proxies run in this federation).
    await page.getByTestId('traffic').locator('[data-state=empty], [data-testid=chart-rps]').first().waitFor();
    await shot('overview');
    if (process.env.TESSERA_UPDATE_DOCS_SCREENSHOT === '1') {
      fs.mkdirSync(path.join(ROOT, 'docs', 'images'), { recursive: true });
      fs.copyFileSync(path.join(ARTIFACTS, 'overview.png'), path.join(ROOT, 'docs', 'images', 'console-overview.png'));
    }
  });

  step('the clusters and cells pages show health', async () => {
    await page.getByRole('link', { name: 'Clusters', exact: true }).click();
    await waitFor('three cluster rows', async () => (await page.getByTestId('clusters-table').locator('tbody tr').count()) === 3, STEP);
    await page.getByTestId('clusters-table').locator('tbody tr', { hasText: 'cluster-b' }).click();
    await page.getByTestId('cluster-detail').getByText('Ready').first().waitFor();
    await shot('clusters');
    await page.getByRole('link', { name: 'Cells', exact: true }).click();
    await waitFor('four cell rows', async () => (await page.getByTestId('cells-table').locator('tbody tr').count()) === 4, STEP);
  });

  step('an application shows its placement, replicas and a replica log', async () => {
    await page.getByRole('link', { name: 'Applications', exact: true }).click();
    await page.getByTestId('applications-table').getByRole('link', { name: 'demo' }).click();
    await waitFor('placement in three cells', async () => (await page.getByTestId('placement-table').locator('tbody tr').count()) === 3, STEP);
    await waitFor('six replicas with endpoints', async () => {
      const rows = page.getByTestId('replicas-table').locator('tbody tr');
      if ((await rows.count()) !== 6) return false;
      const endpoints = await rows.locator('td:nth-child(6)').allTextContents();
      return endpoints.every((e) => /^127\.0\.0\.1:\d+$/.test(e.trim()));
    }, STEP);
    await shot('application');
    await page.getByTestId('replicas-table').locator('tbody tr').first().getByRole('link').click();
    const log = page.getByTestId('replica-log');
    await log.waitFor();
    assert.match(await log.textContent(), /listening|request/);
    await shot('replica-log');
  });

  step('an admin moves buckets from rz-a to rz-b and the change becomes done', async () => {
    await page.getByRole('link', { name: 'Overview', exact: true }).click();
    await page.locator('[data-bucket="30"]').click();
    await page.locator('[data-bucket="39"]').click({ modifiers: ['Shift'] });
    const form = page.getByTestId('move-form');
    await form.getByText('10 selected').waitFor();
    await form.locator('select[name=target]').selectOption('rz-b');
    await form.locator('input[name=reason]').fill('e2e: drain part of rz-a');
    await page.getByTestId('move-preview-button').click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor();
    const preview = await dialog.getByTestId('move-preview').textContent();
    assert.match(preview, /rz-a\s*rz-b\s*30-39\s*10/);
    const counts = await dialog.getByTestId('move-counts').textContent();
    assert.match(counts, /rz-a\s*40\s*30/);
    assert.match(counts, /rz-b\s*30\s*40/);
    // Confirming needs the target's exact name.
    await dialog.locator('input[name=confirm]').fill('rz-a');
    assert.equal(await page.getByTestId('confirm-button').isDisabled(), true);
    await shot('move-preview');
    await dialog.locator('input[name=confirm]').fill('rz-b');
    await page.getByTestId('confirm-button').click();
    const tracking = page.getByTestId('move-tracking');
    await tracking.waitFor();
    // pending → done once every reachable proxy acked (none connected here: done at once).
    await tracking.locator('[data-testid=rollout][data-state=done]').waitFor({ timeout: STEP });
    await waitFor('bucket 35 owned by rz-b in the grid', async () => (await page.locator('[data-bucket="35"]').getAttribute('data-owner')) === 'rz-b', STEP);
    const sm = await fed.ok('GET', '/apis/tessera.io/v1/shardmaps/default');
    assert.deepEqual(sm.spec.assignments, [
      { cell: 'rz-a', buckets: '0-29' },
      { cell: 'rz-b', buckets: '30-69' },
      { cell: 'rz-c', buckets: '70-99' },
    ]);
    assert.equal(sm.spec.reason, 'e2e: drain part of rz-a');
    assert.equal(sm.status.rollout.version, sm.status.version);
    assert.equal(sm.status.rollout.done, true);
    await shot('move-done');
  });

  step('a move the server refuses shows its message', async () => {
    const setPhase = async (phase) => {
      const c = await fed.ok('GET', '/apis/tessera.io/v1/cells/rz-c');
      await fed.ok('PUT', '/apis/tessera.io/v1/cells/rz-c/status', { ...c, status: { ...c.status, phase } });
    };
    const form = page.getByTestId('move-form');
    await page.locator('[data-bucket="0"]').click();
    await form.getByText('1 selected').waitFor();
    await form.locator('select[name=target]').selectOption('rz-c');
    await form.locator('input[name=reason]').fill('e2e: refused');
    // rz-c is taken out of Active behind the console's back (as DR would): only Active RZone
    // cells may own buckets, so the server refuses the move. The console shows the change
    // live (the option is disabled) and the server's message when asked anyway.
    await setPhase('Draining');
    try {
      const option = form.locator('select[name=target] option[value="rz-c"]');
      await waitFor('rz-c shown as not Active', async () => option.isDisabled(), STEP);
      await page.getByTestId('move-preview-button').click();
      const err = form.locator('[data-state=error]');
      await err.waitFor();
      const text = await err.textContent();
      assert.match(text, /422/);
      assert.match(text, /rz-c/);
      assert.equal(await page.getByTestId('confirm-dialog').count(), 0);
      await shot('move-refused');
    } finally {
      await setPhase('Active');
    }
    await form.getByRole('button', { name: 'clear' }).click();
    await form.getByText('0 selected').waitFor();
    const sm = await fed.ok('GET', '/apis/tessera.io/v1/shardmaps/default');
    assert.equal(sm.spec.assignments[0].buckets, '0-29');
  });

  step('the move is in the audit log', async () => {
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    const filters = page.getByTestId('audit-filters');
    await filters.locator('input[name=resource]').fill('shardmaps');
    await filters.locator('input[name=name]').fill('default');
    await filters.locator('input[name=verb]').fill('update');
    await page.getByTestId('audit-apply').click();
    const row = page.getByTestId('audit-table').locator('tbody tr', { hasText: 'admin' }).filter({ hasText: '200' });
    await row.first().waitFor();
    assert.match(await row.first().textContent(), /update.*shardmaps\/default/);
    // Filtering by another user finds nothing.
    await filters.locator('input[name=user]').fill('nobody');
    await page.getByTestId('audit-apply').click();
    await page.locator('[data-state=empty]', { hasText: 'No audit events match' }).waitFor();
    await filters.locator('input[name=user]').fill('admin');
    await page.getByTestId('audit-apply').click();
    await row.first().waitFor();
    await shot('audit');
  });

  step('a viewer sees no mutating controls', async () => {
    await page.getByTestId('logout').click();
    await login(fed.viewerToken, 'viewer');
    await waitFor('the grid for the viewer', async () => (await page.locator('[data-bucket]').count()) === 100, STEP);
    await page.getByTestId('datacenter').first().waitFor();
    const mutating = 'button:has-text("Move"), button:has-text("Preview"), button:has-text("Delete"), button:has-text("Create"), button:has-text("Edit"), button:has-text("Apply"), [data-testid=move-form]';
    assert.equal(await page.locator(mutating).count(), 0, 'overview');
    assert.equal(await page.locator('.bucket-grid.selectable').count(), 0);
    await page.locator('[data-bucket="5"]').click();
    assert.equal(await page.locator('.bucket.selected').count(), 0);
    await shot('viewer-overview');
    for (const route of ['#/shardmaps/default', '#/applications/demo/demo', '#/clusters', '#/cells', '#/proxies']) {
      await page.goto(`${base}/${route}`);
      await page.locator('.page-header h2').waitFor();
      await page.locator('[data-state=loading]').first().waitFor({ state: 'detached' }).catch(() => {});
      assert.equal(await page.locator(mutating).count(), 0, route);
    }
    // The server enforces it anyway.
    const sm = await fed.ok('GET', '/apis/tessera.io/v1/shardmaps/default');
    const r = await fed.request('PUT', '/apis/tessera.io/v1/shardmaps/default', { token: fed.viewerToken, body: sm });
    assert.equal(r.status, 403);
  });
});
