import type { ProxyNodeConfig } from '@app/config';
import { posix } from 'node:path';

/** Who may use a path: anyone, any configured user, or an admin user. */
export type Access = 'open' | 'user' | 'admin';

type AuthSettings = Pick<ProxyNodeConfig, 'authEnabled' | 'pingAuthEnabled' | 'metaAuthEnabled'>;

/**
 * What a request needs, as influxd 1.8 decides it: /write and /query need a user (their OPTIONS
 * preflight does not); /ping and /health only with pingAuthEnabled; /metrics follows pingAuthEnabled
 * unless metaAuthEnabled makes it admin-only like /meta (/debug/vars too, which needs a user
 * otherwise); /reload and /admin/… always need an admin. Any other path (one that answers 404,
 * or one added later) needs a user, so nothing is open by omission.
 *
 * The path is compared in a canonical form — decoded, lower-case, dot segments and repeated or
 * trailing slashes removed, absolute-form targets reduced to their path — because Express routes
 * `/Reload/` and `http://host/reload` to the same controller as `/reload`.
 */
export function accessFor(rawPath: string, method: string | undefined, node: AuthSettings): Access {
  if (!node.authEnabled) return 'open';
  const path = canonicalPath(rawPath);
  switch (path) {
    case '/write':
    case '/query':
      return method === 'OPTIONS' ? 'open' : 'user';
    case '/ping':
    case '/health':
      return node.pingAuthEnabled ? 'user' : 'open';
    case '/metrics':
      return node.metaAuthEnabled ? 'admin' : node.pingAuthEnabled ? 'user' : 'open';
    case '/meta':
      return node.metaAuthEnabled ? 'admin' : 'open';
    case '/debug/vars':
      // /metrics' counters and more (the command line, backend URLs): admin-only like /metrics, never open
      return node.metaAuthEnabled ? 'admin' : 'user';
    case '/reload':
      return 'admin';
    default:
      // sub-paths of the admin endpoints stay admin-only
      if (path === '/admin' || path.startsWith('/admin/')) return 'admin';
      if (path.startsWith('/reload/') || (node.metaAuthEnabled && (path.startsWith('/meta/') || path.startsWith('/metrics/')))) {
        return 'admin';
      }
      return 'user';
  }
}

export function canonicalPath(raw: string): string {
  let path = raw;
  if (!path.startsWith('/')) {
    try {
      path = new URL(path).pathname;
    } catch {
      return path.toLowerCase();
    }
  }
  try {
    path = decodeURIComponent(path);
  } catch {
    // not valid percent-encoding: compare it as it is
  }
  path = posix.normalize(path.toLowerCase());
  if (path.length > 1 && path.endsWith('/')) path = path.replace(/\/+$/, '') || '/';
  return path;
}
