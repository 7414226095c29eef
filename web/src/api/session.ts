// The login session: the bearer token (sessionStorage: gone when the tab closes), who it is
// (SelfSubjectReview, what `kubectl auth whoami` asks) and what the role may change. The
// console only hides controls; the server enforces RBAC on every request (docs/auth.md).

import { ApiClient, ApiError } from './client';
import type { Role, WhoAmI } from './types';

const KEY = 'tessera.token';

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(KEY, token);
    else sessionStorage.removeItem(KEY);
  } catch {
    /* private mode: the token lives in memory only */
  }
}

const ROLE_PREFIX = 'tessera:role:';

export function roleFromGroups(groups: string[]): Role {
  for (const g of groups) {
    if (!g.startsWith(ROLE_PREFIX)) continue;
    const r = g.slice(ROLE_PREFIX.length);
    if (r === 'viewer' || r === 'operator' || r === 'admin') return r;
  }
  return 'unknown';
}

/**
 * Who the token is. 401 → ApiError (bad token). A server without SelfSubjectReview (404) gives
 * role 'unknown': the token works, and the console then hides every mutating control (the
 * least surprising choice; the server would enforce anyway).
 */
export async function whoAmI(client: ApiClient): Promise<WhoAmI> {
  try {
    const res = await client.json<{ status?: { userInfo?: { username?: string; groups?: string[] } } }>(
      'POST',
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
    );
    const groups = res.status?.userInfo?.groups ?? [];
    return { username: res.status?.userInfo?.username ?? '?', groups, role: roleFromGroups(groups) };
  } catch (e) {
    if (e instanceof ApiError && e.code === 404) {
      // Older server: check that the token works at all, role unknown.
      await client.json('GET', '/apis/tessera.io/v1');
      return { username: '(unknown)', groups: [], role: 'unknown' };
    }
    throw e;
  }
}

export type Action = 'write-applications' | 'write-topology' | 'move-buckets' | 'write-tokens';

/** The docs/auth.md matrix, for hiding controls. Unknown roles see no mutating controls. */
export function can(role: Role, action: Action): boolean {
  switch (action) {
    case 'write-applications':
      return role === 'operator' || role === 'admin';
    case 'write-topology':
    case 'move-buckets':
    case 'write-tokens':
      return role === 'admin';
  }
}
