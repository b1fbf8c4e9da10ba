import type { BackendClient } from '@app/backend';
import { quoteIdent } from '@app/influxql';
import { type RetentionPolicyInfo, showRows, statement } from './backend-discovery';
import type { SchemaStep } from './job-model';

/**
 * Runs a schema step: gives the target the databases and retention policies its source has, with the
 * same duration, shard group duration, replication and default. Idempotent: what exists and agrees is
 * left alone, what differs is ALTERed, so running it again (a resumed job) changes nothing.
 */
export async function syncSchema(
  step: SchemaStep,
  clientOf: (backend: string) => BackendClient,
  dbOfBackend: (backend: string) => string,
): Promise<string[]> {
  const done: string[] = [];
  const target = clientOf(step.target);
  // each target db takes its schema from the first source (in the step's order) that answers for a db mapped to it
  for (const targetDb of new Set(Object.values(step.dbs))) {
    const failures: string[] = [];
    let policies: RetentionPolicyInfo[] | undefined;
    for (const source of step.sources) {
      const sourceDb = dbOfBackend(source);
      if (step.dbs[sourceDb] !== targetDb) continue;
      try {
        policies = await retentionPolicies(clientOf(source), sourceDb);
        break;
      } catch (err) {
        failures.push(`${source}: ${(err as Error).message}`);
      }
    }
    if (!policies)
      throw new Error(`no source of the schema of db ${targetDb} on ${step.target} answered: ${failures.join('; ') || 'none holds it'}`);
    done.push(...(await applySchema(target, targetDb, policies, step.createOnly === true)));
  }
  return done;
}

/** A db's retention policies as influxd lists them. */
export async function retentionPolicies(client: BackendClient, db: string): Promise<RetentionPolicyInfo[]> {
  return (await showRows(client, `SHOW RETENTION POLICIES ON ${quoteIdent(db)}`)).map((r) => ({
    name: String(r.name),
    duration: String(r.duration),
    shardGroupDuration: String(r.shardGroupDuration),
    replicaN: Number(r.replicaN),
    default: r.default === true,
  }));
}

/** Creates `db` on `target` and makes its retention policies match `policies` (with `createOnly`, only adds the missing ones, none default); returns the statements it ran. */
async function applySchema(
  target: BackendClient,
  db: string,
  policies: readonly RetentionPolicyInfo[],
  createOnly: boolean,
): Promise<string[]> {
  const run: string[] = [];
  const exec = async (text: string) => {
    await statement(target, text, false);
    run.push(text);
  };
  const on = quoteIdent(db);
  // CREATE DATABASE is idempotent in influxd ≥ 1.0 (no error when it exists)
  await statement(target, `CREATE DATABASE ${on}`, false);
  const existing = new Map((await retentionPolicies(target, db)).map((p) => [p.name, p]));
  for (const p of policies) {
    const have = existing.get(p.name);
    const duration = p.duration === '0s' ? 'INF' : p.duration;
    const rp = quoteIdent(p.name);
    if (!have) {
      await exec(
        `CREATE RETENTION POLICY ${rp} ON ${on} DURATION ${duration} REPLICATION ${p.replicaN} SHARD DURATION ${p.shardGroupDuration}${p.default && !createOnly ? ' DEFAULT' : ''}`,
      );
      continue;
    }
    if (createOnly) continue;
    if (have.duration !== p.duration || have.shardGroupDuration !== p.shardGroupDuration || have.replicaN !== p.replicaN) {
      await exec(
        `ALTER RETENTION POLICY ${rp} ON ${on} DURATION ${duration} REPLICATION ${p.replicaN} SHARD DURATION ${p.shardGroupDuration}`,
      );
    }
    if (p.default && !have.default) await exec(`ALTER RETENTION POLICY ${rp} ON ${on} DEFAULT`);
  }
  return run;
}
