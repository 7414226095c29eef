// Vite: builds the console into dist/ (served by tessera-server at /). `npm run dev` serves it
// with hot reload and proxies the API to TESSERA_API (default: the local federation).
import { defineConfig } from 'vite';

declare const process: { env: Record<string, string | undefined> };
const api = process.env.TESSERA_API ?? 'https://127.0.0.1:8443';
const proxied = ['/api', '/apis', '/openapi', '/version', '/healthz', '/readyz', '/livez', '/metrics'];

export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 400 },
  server: {
    port: 5173,
    // secure: false — the local federation's certificate is signed by its own CA.
    proxy: Object.fromEntries(proxied.map((p) => [p, { target: api, changeOrigin: true, secure: false }])),
  },
});
