// The typed client of Tessera's public REST API (docs/api.md): list, get, watch (resuming from
// the last resourceVersion, relisting on 410 Expired), create, update, patch, delete, and the
// replica log subresource. Errors are Kubernetes Status bodies, surfaced as ApiError.

import type { KubeList, KubeObject, Status } from './types';

export const GROUP_PATH = '/apis/tessera.io/v1';

/** An error answered by the server (a Status body) or a network failure (code 0). */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly status?: Status;
  constructor(code: number, reason: string, message: string, status?: Status) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.status = status;
  }
  /** Field-level causes of a 422, "field: message" each. */
  get causes(): string[] {
    return (this.status?.details?.causes ?? []).map((c) => (c.field ? `${c.field}: ${c.message}` : c.message ?? ''));
  }
}

/** Parses an error response into an ApiError, whatever the body is. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as Status;
    if (body && body.kind === 'Status') {
      return new ApiError(body.code ?? res.status, body.reason ?? res.statusText, body.message ?? res.statusText, body);
    }
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, res.statusText, text.trim() || `${res.status} ${res.statusText}`);
}

/** Where a kind lives: `{plural}` (cluster-scoped) or `{plural, namespace}`. */
export interface ResourceRef {
  plural: string;
  namespace?: string;
  group?: string; // default tessera.io/v1
}

export function collectionPath(r: ResourceRef): string {
  const base = r.group ?? GROUP_PATH;
  return r.namespace ? `${base}/namespaces/${encodeURIComponent(r.namespace)}/${r.plural}` : `${base}/${r.plural}`;
}

export function itemPath(r: ResourceRef, name: string): string {
  return `${collectionPath(r)}/${encodeURIComponent(name)}`;
}

export type Query = Record<string, string | number | boolean | undefined>;

function withQuery(path: string, q?: Query): string {
  if (!q) return path;
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface WatchHandlers<T> {
  /** A full list: the first one, and again after a 410 (replace everything you hold). */
  onList(items: T[], resourceVersion: string): void;
  onEvent(ev: WatchEvent<T>): void;
  /** Connection state changes: null when healthy, else the last error (it keeps retrying). */
  onError(err: ApiError | null): void;
}

export class ApiClient {
  constructor(
    private token: string,
    private onUnauthorized: () => void = () => {},
    private baseUrl = '',
  ) {}

  async request(method: string, path: string, opts: { body?: unknown; contentType?: string; signal?: AbortSignal; accept?: string } = {}): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, Accept: opts.accept ?? 'application/json' };
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    }
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, { method, headers, body, signal: opts.signal, cache: 'no-store' });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new ApiError(0, 'NetworkError', `cannot reach the server: ${(e as Error).message}`);
    }
    if (!res.ok) {
      const err = await errorFromResponse(res);
      if (res.status === 401) this.onUnauthorized();
      throw err;
    }
    return res;
  }

  async json<T>(method: string, path: string, opts: { body?: unknown; contentType?: string; signal?: AbortSignal } = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    return (await res.json()) as T;
  }

  list<T extends KubeObject>(r: ResourceRef, q?: Query, signal?: AbortSignal): Promise<KubeList<T>> {
    return this.json<KubeList<T>>('GET', withQuery(collectionPath(r), q), { signal });
  }

  get<T extends KubeObject>(r: ResourceRef, name: string, signal?: AbortSignal): Promise<T> {
    return this.json<T>('GET', itemPath(r, name), { signal });
  }

  create<T extends KubeObject>(r: ResourceRef, obj: T, q?: Query): Promise<T> {
    return this.json<T>('POST', withQuery(collectionPath(r), q), { body: obj });
  }

  /** PUT: obj.metadata.resourceVersion is the precondition (409 when stale). */
  update<T extends KubeObject>(r: ResourceRef, obj: T, q?: Query): Promise<T> {
    return this.json<T>('PUT', withQuery(itemPath(r, obj.metadata.name), q), { body: obj });
  }

  /** JSON merge patch (RFC 7386). */
  patch<T extends KubeObject>(r: ResourceRef, name: string, patch: unknown, q?: Query): Promise<T> {
    return this.json<T>('PATCH', withQuery(itemPath(r, name), q), { body: patch, contentType: 'application/merge-patch+json' });
  }

  remove<T extends KubeObject>(r: ResourceRef, name: string): Promise<T> {
    return this.json<T>('DELETE', itemPath(r, name));
  }

  /** A replica's last lines (text/plain, fetched through its agent). */
  async replicaLog(namespace: string, name: string, tailLines = 100, signal?: AbortSignal): Promise<string> {
    const res = await this.request('GET', withQuery(`${itemPath({ plural: 'replicas', namespace }, name)}/log`, { tailLines }), { signal, accept: 'text/plain' });
    return res.text();
  }

  /**
   * Lists, then watches from the list's version; on a dropped stream resumes from the last
   * version seen (exactly-once, in order), on 410 Expired lists again. Runs until `signal`
   * aborts. Retries with backoff (1 s … 15 s) and reports errors through onError.
   */
  async listAndWatch<T extends KubeObject>(r: ResourceRef, handlers: WatchHandlers<T>, signal: AbortSignal, q?: Query): Promise<void> {
    let rv = '';
    let backoff = 1000;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
      });
    while (!signal.aborted) {
      try {
        if (!rv) {
          const list = await this.list<T>(r, q, signal);
          rv = list.metadata?.resourceVersion ?? '';
          handlers.onList(list.items ?? [], rv);
          handlers.onError(null);
        }
        const res = await this.request('GET', withQuery(collectionPath(r), { ...q, watch: true, resourceVersion: rv, allowWatchBookmarks: true }), { signal });
        handlers.onError(null);
        backoff = 1000;
        if (!res.body) throw new ApiError(0, 'NoBody', 'the browser gave no stream body');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            const ev = JSON.parse(line) as WatchEvent<T>;
            if (ev.type === 'ERROR') {
              const st = ev.object as unknown as Status;
              if (st.code === 410) { rv = ''; break; }
              throw new ApiError(st.code ?? 500, st.reason ?? 'Error', st.message ?? 'watch error', st);
            }
            const next = ev.object?.metadata?.resourceVersion;
            if (next) rv = next;
            if (ev.type !== 'BOOKMARK') handlers.onEvent(ev);
          }
          if (!rv) break; // 410 inside the stream: list again
        }
        // The server ends streams now and then (timeouts, restarts): resume from rv.
      } catch (e) {
        if (signal.aborted || (e as Error).name === 'AbortError') return;
        const err = e instanceof ApiError ? e : new ApiError(0, 'Error', (e as Error).message);
        if (err.code === 410) { rv = ''; continue; } // Expired: list again
        handlers.onError(err);
        if (err.code === 401) return; // logged out
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 15000);
      }
    }
  }
}
