// Live collections shared by every component: one list+watch per resource (and query), kept
// while at least one component uses it, reference-counted. Components re-render on changes.

import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { ApiClient, ApiError, collectionPath, type Query, type ResourceRef } from './client';
import type { KubeObject, WhoAmI } from './types';

export interface LiveState<T> {
  items: T[];
  loaded: boolean;
  error: ApiError | null;
}

type Listener = () => void;

class LiveCollection<T extends KubeObject> {
  state: LiveState<T> = { items: [], loaded: false, error: null };
  private byKey = new Map<string, T>();
  private listeners = new Set<Listener>();
  private abort = new AbortController();
  private pending = false;

  constructor(client: ApiClient, ref: ResourceRef, q?: Query) {
    void client.listAndWatch<T>(ref, {
      onList: (items) => {
        this.byKey = new Map(items.map((o) => [key(o), o]));
        this.state = { ...this.state, loaded: true };
        this.publish();
      },
      onEvent: (ev) => {
        if (ev.type === 'DELETED') this.byKey.delete(key(ev.object));
        else this.byKey.set(key(ev.object), ev.object);
        this.publish();
      },
      onError: (err) => {
        if (err === this.state.error) return;
        this.state = { ...this.state, error: err };
        this.publish();
      },
    }, this.abort.signal, q);
  }

  /** Coalesces bursts of events into one render per animation frame. */
  private publish() {
    if (this.pending) return;
    this.pending = true;
    const flush = () => {
      this.pending = false;
      const items = [...this.byKey.values()].sort((a, b) => key(a).localeCompare(key(b)));
      this.state = { ...this.state, items };
      this.listeners.forEach((l) => l());
    };
    if (typeof requestAnimationFrame === 'function' && document.visibilityState === 'visible') requestAnimationFrame(flush);
    else setTimeout(flush, 0);
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  }
  get refs() {
    return this.listeners.size;
  }
  close() {
    this.abort.abort();
  }
}

function key(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

export class Store {
  private live = new Map<string, LiveCollection<KubeObject>>();
  constructor(readonly client: ApiClient) {}

  private key(ref: ResourceRef, q?: Query): string {
    return collectionPath(ref) + (q ? '?' + JSON.stringify(q) : '');
  }

  /** The collection's current state if someone holds it (for a first render without flicker). */
  peek<T extends KubeObject>(ref: ResourceRef, q?: Query): LiveState<T> | undefined {
    return this.live.get(this.key(ref, q))?.state as LiveState<T> | undefined;
  }

  /** Holds the collection; call release() when done (closed 30 s after its last user left). */
  acquire<T extends KubeObject>(ref: ResourceRef, q?: Query): { col: LiveCollection<T>; release: () => void } {
    const k = this.key(ref, q);
    let col = this.live.get(k);
    if (!col) {
      col = new LiveCollection<KubeObject>(this.client, ref, q);
      this.live.set(k, col);
    }
    const c = col;
    return {
      col: c as unknown as LiveCollection<T>,
      release: () => {
        setTimeout(() => {
          if (c.refs === 0 && this.live.get(k) === c) {
            c.close();
            this.live.delete(k);
          }
        }, 30000);
      },
    };
  }

  closeAll() {
    this.live.forEach((c) => c.close());
    this.live.clear();
  }
}


export interface Session {
  client: ApiClient;
  store: Store;
  me: WhoAmI;
  logout: () => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a session');
  return s;
}

/** A live collection of a kind (list + watch), shared across components. */
export function useLive<T extends KubeObject>(ref: ResourceRef, q?: Query): LiveState<T> {
  const { store } = useSession();
  const k = collectionPath(ref) + (q ? '?' + JSON.stringify(q) : '');
  const [state, setState] = useState<LiveState<T>>(() => store.peek<T>(ref, q) ?? { items: [], loaded: false, error: null });
  useEffect(() => {
    const { col, release } = store.acquire<T>(ref, q);
    setState(col.state);
    const unsub = col.subscribe(() => setState(col.state));
    return () => {
      unsub();
      release();
    };
  }, [k]);
  return state;
}

/** Polls fn every `ms` (and at once); keeps the last good value beside the last error. */
export function usePoll<T>(fn: (signal: AbortSignal) => Promise<T>, ms: number, deps: unknown[] = []): { data: T | null; error: ApiError | null; loaded: boolean } {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loaded: boolean }>({ data: null, error: null, loaded: false });
  useEffect(() => {
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const data = await fn(ac.signal);
        if (!ac.signal.aborted) setState({ data, error: null, loaded: true });
      } catch (e) {
        if (ac.signal.aborted) return;
        const err = e instanceof ApiError ? e : new ApiError(0, 'Error', (e as Error).message);
        setState((s) => ({ data: s.data, error: err, loaded: true }));
      }
      if (!ac.signal.aborted) timer = setTimeout(tick, ms);
    };
    void tick();
    return () => {
      ac.abort();
      if (timer) clearTimeout(timer);
    };
  }, deps);
  return state;
}
