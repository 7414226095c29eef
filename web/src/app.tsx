// The shell: login gate, session (client, live store, who am I), navigation and routes.
// A new page is a file in pages/ and one line in ROUTES.

import type { FunctionComponent } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiClient } from './api/client';
import { storedToken, storeToken, whoAmI } from './api/session';
import { SessionContext, Store, useSession, type Session } from './api/store';
import { Badge } from './components/common';
import type { WhoAmI } from './api/types';
import { ErrorBox, Loading } from './components/states';
import { href, match, useLocation } from './router';
import { LoginPage } from './pages/login';
import { OverviewPage } from './pages/overview';
import { ClustersPage } from './pages/clusters';
import { CellsPage } from './pages/cells';
import { ApplicationsPage, ApplicationPage } from './pages/applications';
import { ReplicasPage, ReplicaPage } from './pages/replicas';
import { ProxiesPage } from './pages/proxies';
import { AuditPage } from './pages/audit';
import { ShardMapPage } from './pages/shardmap';

type Page = FunctionComponent<{ params: Record<string, string>; query: URLSearchParams }>;

const ROUTES: { pattern: string; page: Page; nav?: string }[] = [
  { pattern: '/', page: OverviewPage, nav: 'Overview' },
  { pattern: '/clusters', page: ClustersPage, nav: 'Clusters' },
  { pattern: '/cells', page: CellsPage, nav: 'Cells' },
  { pattern: '/shardmaps/:name', page: ShardMapPage },
  { pattern: '/applications', page: ApplicationsPage, nav: 'Applications' },
  { pattern: '/applications/:namespace/:name', page: ApplicationPage },
  { pattern: '/replicas', page: ReplicasPage, nav: 'Replicas' },
  { pattern: '/replicas/:namespace/:name', page: ReplicaPage },
  { pattern: '/proxies', page: ProxiesPage, nav: 'Proxies' },
  { pattern: '/audit', page: AuditPage, nav: 'Audit log' },
];

export function App() {
  const [token, setToken] = useState<string | null>(storedToken);
  const [me, setMe] = useState<WhoAmI | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const logout = () => {
    storeToken(null);
    setToken(null);
    setMe(null);
  };
  const session = useMemo<Session | null>(() => {
    if (!token) return null;
    const client = new ApiClient(token, () => {
      // The token stopped working (revoked, expired): back to the login page.
      storeToken(null);
      setToken(null);
      setMe(null);
      setError(new Error('The server no longer accepts this token (revoked or expired). Log in again.'));
    });
    return { client, store: new Store(client), me: { username: '', groups: [], role: 'unknown' }, logout };
  }, [token]);
  useEffect(() => () => session?.store.closeAll(), [session]);
  useEffect(() => {
    if (!session) return;
    let cancelled = false;
    whoAmI(session.client).then(
      (w) => !cancelled && setMe(w),
      (e) => {
        if (cancelled) return;
        setError(e);
        storeToken(null);
        setToken(null);
      },
    );
    return () => {
      cancelled = true;
    };
  }, [session]);

  if (!token || !session) {
    return (
      <LoginPage
        error={error}
        onLogin={(t) => {
          setError(null);
          storeToken(t);
          setToken(t);
        }}
      />
    );
  }
  if (!me) return <main class="container"><Loading what="your session" /></main>;
  return (
    <SessionContext.Provider value={{ ...session, me }}>
      <Shell />
    </SessionContext.Provider>
  );
}

function Shell() {
  const loc = useLocation();
  let page: { page: Page; params: Record<string, string> } | null = null;
  for (const r of ROUTES) {
    const params = match(r.pattern, loc.path);
    if (params) {
      page = { page: r.page, params };
      break;
    }
  }
  const active = (pattern: string) => (pattern === '/' ? loc.path === '/' : loc.path.startsWith(pattern));
  return (
    <>
      <nav class="topbar">
        <ul>
          <li>
            <a href="#/" class="brand">
              Tessera
            </a>
          </li>
          {ROUTES.filter((r) => r.nav).map((r) => (
            <li key={r.pattern}>
              <a href={href(r.pattern)} aria-current={active(r.pattern) ? 'page' : undefined}>
                {r.nav}
              </a>
            </li>
          ))}
        </ul>
        <UserMenu />
      </nav>
      <main class="content">
        {page ? <page.page params={page.params} query={loc.query} /> : <ErrorBox error={new Error(`No page at ${loc.path}`)} title="Not found" />}
      </main>
    </>
  );
}

function UserMenu() {
  const { me, logout } = useSession();
  return (
    <ul class="user">
      <li>
        <span data-testid="whoami">
          {me.username} <Badge tone={me.role === 'viewer' || me.role === 'unknown' ? 'muted' : me.role === 'admin' ? 'warn' : 'info'}>{me.role === 'unknown' ? 'role unknown: read-only' : me.role}</Badge>
        </span>
      </li>
      <li>
        <button class="outline secondary small" onClick={logout} data-testid="logout">
          Log out
        </button>
      </li>
    </ul>
  );
}
