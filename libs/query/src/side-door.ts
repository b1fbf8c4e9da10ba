import type { ParsedStatement, StatementKind } from '@app/influxql';

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
