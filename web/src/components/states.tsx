// Loading, empty and error states: every list and panel says which one it is in.

import type { ComponentChildren } from 'preact';
import { ApiError } from '../api/client';

export function Loading({ what }: { what: string }) {
  return (
    <p class="state loading" aria-busy="true" data-state="loading">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return (
    <p class="state empty" data-state="empty">
      {children}
    </p>
  );
}

export function ErrorBox({ error, title }: { error: ApiError | Error | null | undefined; title?: string }) {
  if (!error) return null;
  const api = error instanceof ApiError ? error : null;
  return (
    <div class="state error" role="alert" data-state="error">
      <strong>{title ?? 'Error'}</strong>
      {api && api.code ? ` (${api.code} ${api.reason})` : ''}: {error.message}
      {api && api.causes.length > 0 && (
        <ul>
          {api.causes.map((c) => (
            <li key={c}>{c}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Wraps a live collection's states: error banner (stale data stays visible), loading, empty. */
export function LiveStates({ loaded, error, count, what, empty, children }: { loaded: boolean; error: ApiError | null; count: number; what: string; empty?: ComponentChildren; children: ComponentChildren }) {
  return (
    <>
      {error && <ErrorBox error={error} title={loaded ? `Live updates of ${what} interrupted, retrying` : `Cannot load ${what}`} />}
      {!loaded && !error && <Loading what={what} />}
      {loaded && count === 0 && !error && <Empty>{empty ?? `No ${what}.`}</Empty>}
      {loaded && count > 0 && children}
    </>
  );
}
