import type { BackendClient } from '@app/backend';
import { type BackendConfig, backendDatabase, type ProxyNodeConfig } from '@app/config';
import { dataKey, parseQueryResponse } from '@app/query';
import type { MeasurementRef } from '@app/router';

/** What discovery needs of a backend (the proxy's Backend fits; the admin CLI builds them from BackendClients). */
export interface DiscoverableBackend {
  readonly name: string;
  readonly config: BackendConfig;
  readonly isHealthy: boolean;
  readonly client: Pick<BackendClient, 'query'>;
}

type ServedDbs = Pick<ProxyNodeConfig, 'db' | 'databases'>;

/** Most measurements one plan looks at (a bound on what one admin request may hold). */
const MAX_MEASUREMENTS = 1_000_000;

/**
 * The measurements the backends hold, in client databases: SHOW MEASUREMENTS on every query-able
 * backend that is up (one per distinct URL and db), in each served db as that backend maps it (a
 * `"*"` proxy asks SHOW DATABASES first). A single-database proxy's measurements are in its `db`
 * (or '' when it has none: the db takes no part in its routing). Backends that fail are named in `failed`.
 */
export async function discoverMeasurements(
  all: readonly DiscoverableBackend[],
  node: ServedDbs,
): Promise<{ measurements: MeasurementRef[]; failed: string[] }> {
  const multiDb = node.databases !== undefined;
  const seen = new Set<string>();
  const backends: DiscoverableBackend[] = [];
  for (const b of all) {
    if (b.config.writeOnly || !b.isHealthy || seen.has(dataKey(b))) continue;
    seen.add(dataKey(b));
    backends.push(b);
  }
  const found = new Map<string, MeasurementRef>();
  const failed: string[] = [];
  await Promise.all(
    backends.map(async (backend) => {
      try {
        const dbs = multiDb ? await clientDatabases(node, backend) : [node.db];
        for (const db of dbs) {
          const there = multiDb ? backendDatabase(backend.config, db, true) : backend.config.db;
          for (const name of await firstColumn(backend, 'SHOW MEASUREMENTS', there)) {
            if (found.size >= MAX_MEASUREMENTS) return;
            found.set(`${db}\u0000${name}`, { db, name });
          }
        }
      } catch (err) {
        failed.push(`${backend.name}: ${(err as Error).message}`);
      }
    }),
  );
  const measurements = [...found.values()].sort((a, b) => (a.db === b.db ? cmp(a.name, b.name) : cmp(a.db, b.db)));
  return { measurements, failed };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The served client dbs of a multi-database proxy: its list, or for `"*"` what the backend has (renamed back through its dbMap). */
async function clientDatabases(node: ServedDbs, backend: DiscoverableBackend): Promise<string[]> {
  const listed = node.databases;
  if (Array.isArray(listed)) return listed;
  const dbMap = backend.config.dbMap ?? {};
  const clientOf = new Map(Object.entries(dbMap).map(([client, there]) => [there, client]));
  const out: string[] = [];
  for (const there of await firstColumn(backend, 'SHOW DATABASES', false)) {
    const client = clientOf.get(there) ?? (Object.prototype.hasOwnProperty.call(dbMap, there) ? undefined : there);
    if (client !== undefined && client !== '_internal') out.push(client);
  }
  return out;
}

/** The first column of every row a statement answers on `backend` (in `db`; false: no db). */
async function firstColumn(backend: DiscoverableBackend, text: string, db: string | false): Promise<string[]> {
  const answer = await backend.client.query({ method: 'GET', text, db, requestId: 'admin-plan' });
  const body = answer.body.toString('utf8');
  if (answer.status !== 200) throw new Error(`answered ${answer.status}: ${body.trim().slice(0, 200)}`);
  const response = parseQueryResponse(body);
  const result = response.results?.[0];
  if (response.error || result?.error) throw new Error(response.error ?? result?.error);
  const out: string[] = [];
  for (const series of result?.series ?? []) for (const row of series.values ?? []) out.push(String(row[0]));
  return out;
}
