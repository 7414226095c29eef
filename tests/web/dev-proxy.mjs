// Development only: serves web/dist and forwards API paths to tessera-server, for running the
// browser tests against a server that does not serve the console itself yet
// (TESSERA_CONSOLE_DEV_PROXY=1). The real tests use the server's own static serving.
// For a server without SelfSubjectReview (it answers 404), `whoami` (token → user and groups,
// known to the test because it created the tokens) stands in for it; a server that has it is
// always asked.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';

const API = ['/api', '/apis', '/openapi', '/version', '/healthz', '/readyz', '/livez', '/metrics'];
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };

export function startDevProxy({ dist, port, ca, whoami = {} }) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (API.some((p) => url.pathname === p || url.pathname.startsWith(p + '/'))) {
      const ssr = url.pathname === '/apis/authentication.k8s.io/v1/selfsubjectreviews';
      const up = https.request({ host: '127.0.0.1', port, ca, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${port}` } }, (r) => {
        const who = whoami[(req.headers.authorization ?? '').replace(/^Bearer /, '')];
        if (ssr && r.statusCode === 404 && who) {
          r.resume();
          res.writeHead(201, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ kind: 'SelfSubjectReview', apiVersion: 'authentication.k8s.io/v1', status: { userInfo: who } }));
          return;
        }
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.on('error', (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      req.pipe(up);
      return;
    }
    let file = path.join(dist, path.normalize(url.pathname).replace(/^\/+/, ''));
    if (!file.startsWith(dist) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(dist, 'index.html');
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) })));
}
