import { writeInfluxError } from '@app/http-compat';
import type { ParsedStatement, StatementKind } from '@app/influxql';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Who a request authenticated as (set by RequestGate when the proxy's auth is on). */
export interface AuthenticatedUser {
  readonly username: string;
  readonly admin: boolean;
}

const users = new WeakMap<IncomingMessage, AuthenticatedUser>();

export function rememberUser(req: IncomingMessage, user: AuthenticatedUser): void {
  users.set(req, user);
}

/** undefined when the request did not authenticate (auth off, or an open path). */
export function userOf(req: IncomingMessage): AuthenticatedUser | undefined {
  return users.get(req);
}

/**
 * Statements influxd runs for admin users only (influxql's RequiredPrivileges with Admin: true). The
 * proxy runs statements with the backends' credentials, so it checks this itself for its own users.
 */
export const ADMIN_STATEMENTS: ReadonlySet<StatementKind> = new Set<StatementKind>([
  'create-database',
  'drop-database',
  'create-user',
  'drop-user',
  'grant',
  'revoke',
  'kill-query',
  'set-password',
  'create-retention-policy',
  'alter-retention-policy',
  'drop-shard',
  'show-grants',
  'drop-measurement',
  'show-stats',
  'show-shard-groups',
  'show-shards',
  'show-diagnostics',
  'create-subscription',
  'drop-subscription',
  'show-subscriptions',
  'show-users',
]);

/**
 * influxd's 403 for a non-admin user's query holding an admin-only statement (the whole request is
 * refused before any statement runs). true when it answered.
 */
export function refuseUnprivileged(
  req: IncomingMessage,
  res: ServerResponse,
  statements: readonly ParsedStatement[],
  headers: OutgoingHttpHeaders,
): boolean {
  const user = userOf(req);
  if (!user || user.admin) return false;
  const statement = statements.find((s) => ADMIN_STATEMENTS.has(s.kind));
  if (!statement) return false;
  const message = `error authorizing query: ${user.username} not authorized to execute statement '${statement.text}', requires admin privilege`;
  writeInfluxError(res, 403, message, headers);
  return true;
}
