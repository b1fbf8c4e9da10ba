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

/** A statement that does what a statement of another kind does, and which kind that is. */
export interface SideDoor {
  /** The kind whose permission it needs (refused while that kind is in `forbiddenStatements`). */
  readonly needs: StatementKind;
  /** The statement as the refusal names it (`CREATE RETENTION POLICY ... DEFAULT`: ASCII, it goes in X-Influxdb-Error too). */
  readonly words: string;
}

const CREATE_DEFAULT_RP: SideDoor = { needs: 'alter-retention-policy', words: 'CREATE RETENTION POLICY ... DEFAULT' };
const CREATE_ADMIN_USER: SideDoor = { needs: 'grant', words: 'CREATE USER ... WITH ALL PRIVILEGES' };

/**
 * The side door a statement of an allowed kind opens, if any (see the README's "Side doors"):
 * - `CREATE RETENTION POLICY … DEFAULT` makes the new policy the database's default: queries without
 *   an rp stop seeing every point already written, and new writes land in the new policy. That is what
 *   `ALTER RETENTION POLICY … DEFAULT` does.
 * - `CREATE USER … WITH ALL PRIVILEGES` creates an admin on every backend: `GRANT ALL PRIVILEGES TO`.
 * CREATE DATABASE … WITH … is not one: influxd 1.6 refuses it on a database that has retention
 * policies unless it names the current default with the same spec (a no-op), and a database without
 * any holds no data.
 */
export function sideDoorOf(statement: ParsedStatement): SideDoor | undefined {
  switch (statement.kind) {
    case 'create-retention-policy':
      // DEFAULT can only be the option here: a policy or database named "default" is a quoted identifier
      return statement.tokens.some((t) => t.kind === 'keyword' && t.value === 'DEFAULT') ? CREATE_DEFAULT_RP : undefined;
    case 'create-user':
      return statement.privilege === 'ALL' ? CREATE_ADMIN_USER : undefined;
    default:
      return undefined;
  }
}
