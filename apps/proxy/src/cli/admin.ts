import { PRODUCT_CONFIG_RULES } from '@app/cli';
import {
  type ConfigStoreOptions,
  EtcdConfigProvider,
  type JobStore,
  newJobRecord,
  REDIS_CONFIG_CHANNEL,
  REDIS_GROUPS_KEY,
  REDIS_KEYMAPS_KEY,
  RedisConfigProvider,
  redisClientOptions,
  storeOptions,
  StoreAddressError,
  type StoreArgs,
  withStoreFlags,
  ETCD_SECTIONS,
} from '@app/cluster-store';
import { BackendClient } from '@app/backend';
import {
  applyRoutingChange,
  type ClusterConfig,
  ConfigValidationError,
  type ProxyNodeConfig,
  type RoutingChange,
  routingChangeOf,
} from '@app/config';
import { type Move, type MeasurementRef, planMoves } from '@app/router';
import { JobRefusedError, type JobPlan, type JobRecord, type JobRequest } from '@app/data-movement/job-model';
import { jobSummary, type JobSummary, prepareJobRequest, routingBeforeOf, submitJob } from '@app/data-movement/job-runner-admin';
import { createJobEngine } from '@app/data-movement/job-runner-engine';
import { INSTALL_DIR } from '@app/cli';
import { Etcd3 } from 'etcd3';
import Redis from 'ioredis';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import yargs from 'yargs';
import { discoverMeasurements } from '../admin/measurement-discovery';

/**
 * `bin/influxdb-proxy-admin`: records, lists, follows and cancels data-movement jobs, either straight in
 * the config store (Redis or etcd, the same flags as the proxy; the sentinel leader runs the jobs) or
 * through a proxy's admin endpoints (`--proxy`; the way for a proxy on a config file, which runs them
 * itself). Exit codes: 0 done (or recorded), 1 the job failed or was cancelled (with --wait), 2 the
 * command line, 3 refused (400/409), 4 the store or proxy did not answer.
 */

/** How a command reaches the jobs. */
interface AdminTarget {
  list(): Promise<JobRecord[]>;
  get(id: string): Promise<JobRecord | null>;
  submit(request: JobRequest, dryRun: boolean, change?: RoutingChange): Promise<{ plan: JobPlan } | { job: JobRecord }>;
  /** Which measurements the backends hold would move under `change` (nothing is recorded or applied). */
  planMoves(change: RoutingChange): Promise<MovesAnswer>;
  cancel(id: string): Promise<JobRecord | null>;
  close(): Promise<void>;
}

/** What `plan` prints: POST /admin/plan's answer. */
interface MovesAnswer {
  measurements: number;
  moving: number;
  byGroup: Record<string, { in: number; out: number }>;
  moves: Move[];
  unroutable: MeasurementRef[];
  incomplete?: string[];
}

class CliError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** Jobs straight in Redis or etcd: planned (dry run) here, run by the sentinel leader. */
class StoreTarget implements AdminTarget {
  private readonly engine = createJobEngine();

  private constructor(
    private readonly options: ConfigStoreOptions & { kind: 'redis' | 'etcd' },
    private readonly provider: RedisConfigProvider | EtcdConfigProvider,
    private readonly store: JobStore,
    private config: ClusterConfig,
  ) {}

  static async open(options: ConfigStoreOptions): Promise<StoreTarget> {
    if (options.kind === 'file') {
      throw new CliError(
        'with a config file nobody shares the jobs: the proxy runs them itself; go through it with --proxy http://host:port',
        2,
      );
    }
    const provider: RedisConfigProvider | EtcdConfigProvider =
      options.kind === 'redis'
        ? new RedisConfigProvider(options, PRODUCT_CONFIG_RULES)
        : new EtcdConfigProvider(options, PRODUCT_CONFIG_RULES);
    let config: ClusterConfig;
    try {
      config = await provider.load();
    } catch (err) {
      await provider.close().catch(() => undefined);
      throw new CliError((err as Error).message, 4);
    }
    return new StoreTarget(options, provider, provider.jobs(), config);
  }

  list(): Promise<JobRecord[]> {
    return this.store.list();
  }

  get(id: string): Promise<JobRecord | null> {
    return this.store.get(id);
  }

  async submit(request: JobRequest, dryRun: boolean, change?: RoutingChange) {
    if (!change) return submitJob(this.store, this.engine, this.config, request, { dryRun, newRecord: (r) => newJobRecord(r) });
    // rebalance --keymaps: the job first (recording the routing in force), then the new keymaps (and
    // groups), so no proxy ever routes by the new ones without knowing the job that moves the data
    const after = this.candidate(change);
    const prepared = prepareJobRequest({ ...request, ...routingBeforeOf(this.config) }, this.config);
    if (dryRun) return { plan: await this.engine.plan(prepared, after) };
    const job = await this.store.create(newJobRecord(prepared), Object.keys(this.config.backends));
    await this.writeRouting(change);
    return { job };
  }

  async planMoves(change: RoutingChange): Promise<MovesAnswer> {
    const after = this.candidate(change);
    // the routing as a proxy serving several databases sees it, when one does
    const proxies = Object.values(this.config.proxies);
    const node: Pick<ProxyNodeConfig, 'db' | 'databases'> = proxies.find((p) => p.databases !== undefined) ?? proxies[0] ?? { db: '' };
    const nodeName = Object.entries(this.config.proxies).find(([, p]) => p === node)?.[0] ?? 'p1';
    const clients = Object.entries(this.config.backends).map(([name, config]) => new BackendClient(name, config));
    try {
      const backends = clients.map((client) => ({ name: client.name, config: client.config, isHealthy: true, client }));
      const { measurements, failed } = await discoverMeasurements(backends, node);
      const plan = planMoves(this.config, after, measurements, nodeName);
      return {
        measurements: plan.total,
        moving: plan.moves.length,
        byGroup: byGroupOf(plan.moves),
        moves: plan.moves,
        unroutable: plan.unroutable,
        ...(failed.length > 0 ? { incomplete: failed } : {}),
      };
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }

  /** The config in force with `change` applied; a change that does not validate is the operator's mistake (exit 2). */
  private candidate(change: RoutingChange): ClusterConfig {
    try {
      return applyRoutingChange(this.config, change, PRODUCT_CONFIG_RULES);
    } catch (err) {
      if (err instanceof ConfigValidationError) throw new CliError(`--keymaps: ${err.message}`, 2);
      throw err;
    }
  }

  cancel(id: string): Promise<JobRecord | null> {
    return this.store.cancel(id);
  }

  async close(): Promise<void> {
    await this.engine.close();
    await this.provider.close();
  }

  /** Replaces the keymaps (and the groups, when given) in the store at once (one MULTI, one etcd transaction) and announces the change. */
  private async writeRouting(change: RoutingChange): Promise<void> {
    const { keymaps, groups } = change;
    if (this.options.kind === 'redis') {
      const client = new Redis(redisClientOptions(this.options));
      try {
        await client.connect();
        const multi = client.multi().del(REDIS_KEYMAPS_KEY);
        for (const [m, names] of Object.entries(keymaps)) multi.hset(REDIS_KEYMAPS_KEY, m, JSON.stringify(names));
        if (groups) {
          multi.del(REDIS_GROUPS_KEY);
          for (const [g, names] of Object.entries(groups)) multi.hset(REDIS_GROUPS_KEY, g, JSON.stringify(names));
        }
        const replies = await multi.exec();
        for (const [err] of replies ?? []) if (err) throw err;
        await client.publish(REDIS_CONFIG_CHANNEL, JSON.stringify({ db: this.options.db, by: 'influxdb-proxy-admin rebalance' }));
      } finally {
        client.disconnect();
      }
      return;
    }
    const o = this.options;
    const client = new Etcd3({ hosts: o.hosts, auth: o.username ? { username: o.username, password: o.password ?? '' } : undefined });
    try {
      const replace = async (section: (typeof ETCD_SECTIONS)[number], entries: Readonly<Record<string, unknown>>) => {
        const dir = `${o.prefix}${section}/`;
        const existing = Object.keys(await client.getAll().prefix(dir).strings());
        return [
          ...existing.filter((k) => !(k.slice(dir.length) in entries)).map((k) => client.delete().key(k)),
          ...Object.entries(entries).map(([name, value]) => client.put(dir + name).value(JSON.stringify(value))),
        ];
      };
      const ops = [...(await replace('keymaps', keymaps)), ...(groups ? await replace('groups', groups) : [])];
      const result = await client
        .if(`${o.prefix}keymaps/`, 'Version', '>', -1)
        .then(...ops)
        .commit();
      if (!result.succeeded) throw new Error('the etcd transaction writing the keymaps failed');
    } finally {
      client.close();
    }
  }
}

/** Jobs through a proxy's admin endpoints. */
class ProxyTarget implements AdminTarget {
  private readonly auth?: string;

  constructor(
    private readonly base: string,
    user?: string,
    password?: string,
  ) {
    if (user !== undefined) this.auth = `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}`;
  }

  async list(): Promise<JobRecord[]> {
    const body = (await this.call('GET', '/admin/jobs')) as { jobs: { record: JobRecord }[] };
    return body.jobs.map((j) => j.record);
  }

  async get(id: string): Promise<JobRecord | null> {
    const body = (await this.call('GET', `/admin/jobs/${encodeURIComponent(id)}`, undefined, true)) as { record: JobRecord } | null;
    return body?.record ?? null;
  }

  async planMoves(change: RoutingChange): Promise<MovesAnswer> {
    return (await this.call('POST', '/admin/plan', change)) as MovesAnswer;
  }

  async submit(request: JobRequest, dryRun: boolean, change?: RoutingChange) {
    if (change) {
      throw new CliError(
        'rebalance --keymaps writes the keymaps into Redis or etcd; with a config file, record the job with --proxy first (it keeps the keymaps in force), then edit the file',
        2,
      );
    }
    const body = (await this.call('POST', `/admin/jobs${dryRun ? '?dry-run=true' : ''}`, request)) as {
      plan?: JobPlan;
      record?: JobRecord;
    };
    if (body.plan) return { plan: body.plan };
    return { job: body.record! };
  }

  async cancel(id: string): Promise<JobRecord | null> {
    const body = (await this.call('POST', `/admin/jobs/${encodeURIComponent(id)}/cancel`, undefined, true)) as { record: JobRecord } | null;
    return body?.record ?? null;
  }

  async close(): Promise<void> {}

  private async call(method: string, path: string, body?: unknown, nullOn404 = false): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), {
        method,
        headers: {
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...(this.auth ? { Authorization: this.auth } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      throw new CliError(`the proxy at ${this.base} did not answer: ${(err as Error).cause ?? (err as Error).message}`, 4);
    }
    const text = await res.text();
    if (res.status === 404 && nullOn404) return null;
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { error: text.trim() };
    }
    if (!res.ok) {
      const error = (parsed as { error?: string }).error ?? text.trim();
      throw new CliError(`${res.status}: ${error}`, res.status === 400 || res.status === 409 ? 3 : 4);
    }
    return parsed;
  }
}

interface AdminArgs extends StoreArgs {
  _: (string | number)[];
  proxy?: string;
  user?: string;
  password?: string;
  dryRun: boolean;
  wait: boolean;
  yes: boolean;
  json: boolean;
  keymaps?: string;
  pointsPerSecond?: number;
  backend?: string;
  measurements?: string[];
  id?: string;
}

function parser() {
  return withStoreFlags(
    yargs()
      .scriptName('influxdb-proxy-admin')
      .usage('$0 <command> [options]\n\nRecords, follows and cancels data-movement jobs (docs/data-movement.md).')
      .parserConfiguration({ 'short-option-groups': false, 'camel-case-expansion': true })
      .command('recover <backend>', 'refill a backend (back empty) from its replicas: everything its keymaps map to it')
      .command('resync [measurements..]', 'find the time windows where replicas disagree and copy them both ways')
      .command('rebalance', 'copy each measurement to the backends that own it now (--keymaps: record the job, then write these keymaps)')
      .command('cleanup <backend>', 'drop from a backend what no keymap maps to it any more (needs --yes)')
      .command('plan', 'which measurements the backends hold would move under --keymaps (records nothing)')
      .command('jobs', 'list the jobs (unfinished and the last finished)')
      .command('job <id>', 'show one job')
      .command('cancel <id>', 'cancel an unfinished job')
      .demandCommand(1, 'give a command: recover, resync, rebalance, cleanup, plan, jobs, job, cancel')
      .strictCommands(),
  )
    .option('proxy', { type: 'string', description: 'go through this proxy’s admin endpoints (http://host:port) instead of the store' })
    .option('user', { type: 'string', description: 'admin user (with --proxy, when authEnabled)' })
    .option('password', { type: 'string', description: 'its password' })
    .option('dry-run', {
      type: 'boolean',
      default: false,
      description: 'print the plan (measurements, windows, points, bytes) and record nothing',
    })
    .option('wait', { type: 'boolean', default: false, description: 'follow the job until it ends (a progress bar on a terminal)' })
    .option('yes', { type: 'boolean', default: false, description: 'cleanup: confirm that data is dropped' })
    .option('json', { type: 'boolean', default: false, description: 'print JSON instead of text' })
    .option('keymaps', {
      type: 'string',
      description:
        'rebalance, plan: a JSON file of the new keymaps ({"cpu": ["node2"], "_default_": {"hash": ["g1", "g2"]}}), or a config document whose keymaps and groups are taken',
    })
    .option('points-per-second', { type: 'number', description: 'copy throttle of this job (0: unthrottled; default: the runner’s)' })
    .strict()
    .help()
    .version(false);
}

async function main(argv: string[]): Promise<number> {
  let args: AdminArgs;
  try {
    args = (await parser()
      .exitProcess(false)
      .fail((msg, err) => {
        throw err ?? new CliError(msg, 2);
      })
      .parseAsync(argv)) as unknown as AdminArgs;
  } catch (err) {
    process.stderr.write(`influxdb-proxy-admin: ${(err as Error).message}\n`);
    return 2;
  }
  if ((args as { help?: boolean }).help) return 0;
  const command = String(args._[0]);
  let target: AdminTarget;
  try {
    target = args.proxy
      ? new ProxyTarget(args.proxy, args.user, args.password)
      : await StoreTarget.open(storeOptions(args, resolve(args.config ?? resolve(INSTALL_DIR, 'config.json'))));
  } catch (err) {
    return fail(err);
  }
  try {
    return await run(command, args, target);
  } catch (err) {
    return fail(err);
  } finally {
    await target.close().catch(() => undefined);
  }
}

function fail(err: unknown): number {
  const code = err instanceof CliError ? err.code : err instanceof JobRefusedError ? 3 : err instanceof StoreAddressError ? 2 : 4;
  process.stderr.write(`influxdb-proxy-admin: ${(err as Error).message}\n`);
  return code;
}

async function run(command: string, args: AdminArgs, target: AdminTarget): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (command === 'jobs') {
    const jobs = await target.list();
    if (args.json) out(JSON.stringify(jobs.map(jobSummary), null, 2));
    else if (jobs.length === 0) out('no jobs');
    else for (const j of jobs) out(describe(jobSummary(j)));
    return 0;
  }
  if (command === 'job' || command === 'cancel') {
    const id = String(args.id);
    const job = command === 'job' ? await target.get(id) : await target.cancel(id);
    if (!job) throw new CliError(`no job ${id}`, 3);
    out(args.json ? JSON.stringify(job, null, 2) : describe(jobSummary(job)));
    return 0;
  }
  if (command === 'plan') {
    if (args.keymaps === undefined) throw new CliError('plan needs --keymaps FILE (the keymaps, and groups, to plan for)', 2);
    const answer = await target.planMoves(readRoutingChange(args.keymaps));
    out(args.json ? JSON.stringify(answer, null, 2) : describeMoves(answer));
    return 0;
  }
  const request: JobRequest = {
    kind: command as JobRequest['kind'],
    ...(args.backend !== undefined ? { backend: String(args.backend) } : {}),
    ...(args.measurements?.length ? { measurements: args.measurements.map(String) } : {}),
    ...(command === 'cleanup' ? { confirm: args.yes } : {}),
    ...(args.pointsPerSecond !== undefined ? { pointsPerSecond: args.pointsPerSecond } : {}),
  };
  if (command === 'cleanup' && !args.yes && !args.dryRun)
    throw new CliError(`cleanup drops data from ${request.backend}: confirm with --yes`, 2);
  let change: RoutingChange | undefined;
  if (args.keymaps !== undefined) {
    if (command !== 'rebalance') throw new CliError('--keymaps goes with rebalance and plan', 2);
    change = readRoutingChange(args.keymaps);
  }
  const dryRequest = command === 'cleanup' && args.dryRun ? { ...request, confirm: true } : request;
  const result = await target.submit(dryRequest, args.dryRun, change);
  if ('plan' in result) {
    out(args.json ? JSON.stringify(result.plan, null, 2) : describePlan(result.plan));
    return 0;
  }
  out(
    args.json
      ? JSON.stringify(result.job)
      : `recorded job ${result.job.id} (${result.job.request.kind}${request.backend ? ` ${request.backend}` : ''})`,
  );
  if (!args.wait) return 0;
  return follow(target, result.job.id, args.json);
}

/** --wait: polls the job until it ends; a progress bar on a terminal, else a line per change. */
async function follow(target: AdminTarget, id: string, json: boolean): Promise<number> {
  const tty = process.stdout.isTTY === true && !json;
  let lastLine = '';
  for (;;) {
    const job = await target.get(id);
    if (!job) throw new CliError(`job ${id} is gone from the store`, 4);
    const s = jobSummary(job);
    const finished = s.state === 'done' || s.state === 'failed' || s.state === 'cancelled';
    if (tty) {
      process.stdout.write(`\r${bar(s)}\x1b[K`);
      if (finished) process.stdout.write('\n');
    } else {
      const line = json ? JSON.stringify(s) : describe(s);
      if (line !== lastLine) process.stdout.write(`${line}\n`);
      lastLine = line;
    }
    if (finished) {
      if (s.state !== 'done') process.stderr.write(`influxdb-proxy-admin: job ${id} ${s.state}${s.error ? `: ${s.error}` : ''}\n`);
      return s.state === 'done' ? 0 : 1;
    }
    await new Promise((r) => setTimeout(r, tty ? 500 : 1_000));
  }
}

function readRoutingChange(path: string): RoutingChange {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CliError(`--keymaps ${path}: ${(err as Error).message}`, 2);
  }
  try {
    return routingChangeOf(parsed);
  } catch (err) {
    throw new CliError(`--keymaps ${path}: ${(err as Error).message}`, 2);
  }
}

function byGroupOf(moves: readonly Move[]): Record<string, { in: number; out: number }> {
  const byGroup: Record<string, { in: number; out: number }> = {};
  for (const m of moves) {
    if (m.fromGroup !== undefined) (byGroup[m.fromGroup] ??= { in: 0, out: 0 }).out++;
    if (m.toGroup !== undefined) (byGroup[m.toGroup] ??= { in: 0, out: 0 }).in++;
  }
  return byGroup;
}

/** `plan`: one line per moving measurement, then the totals. */
function describeMoves(answer: MovesAnswer): string {
  const lines = answer.moves.map((m) => {
    const groups = m.fromGroup !== undefined || m.toGroup !== undefined ? ` (group ${m.fromGroup ?? '-'} → ${m.toGroup ?? '-'})` : '';
    return `${m.db ? `${m.db}.` : ''}${m.name}: ${m.from.join(',') || '-'} → ${m.to.join(',')}${groups}`;
  });
  for (const u of answer.unroutable) lines.push(`${u.db ? `${u.db}.` : ''}${u.name}: no keymap would take it`);
  lines.push(`${answer.moving} of ${answer.measurements} measurements would move`);
  for (const [g, n] of Object.entries(answer.byGroup)) lines.push(`  group ${g}: ${n.in} in, ${n.out} out`);
  for (const f of answer.incomplete ?? []) lines.push(`not asked (its measurements are not in this plan): ${f}`);
  return lines.join('\n');
}

/** One line: `recover-… recover node2  running  step 3/7  1200/5000 windows  1.2M points  50000 pts/s  ETA 80 s  (by s1)`. */
function describe(s: JobSummary): string {
  const target = s.backend ?? (s.measurements?.join(',') || '');
  const parts = [s.id, `${s.kind}${target ? ` ${target}` : ''}`, s.state];
  if (s.step) parts.push(`step ${s.step}`);
  if (s.windowsTotal > 0) parts.push(`${s.windowsDone}/${s.windowsTotal} windows`);
  parts.push(`${s.pointsCopied}${s.estimatedPoints !== undefined ? `/${s.estimatedPoints}` : ''} points`);
  if (s.state === 'running')
    parts.push(`${Math.round(s.rate)} points/s`, `ETA ${s.etaSeconds === null ? '?' : `${Math.round(s.etaSeconds)} s`}`);
  if (s.runner) parts.push(`(by ${s.runner})`);
  if (s.error) parts.push(`— ${s.error}`);
  return parts.join('  ');
}

function bar(s: JobSummary): string {
  const ratio = s.windowsTotal > 0 ? Math.min(1, s.windowsDone / s.windowsTotal) : s.state === 'done' ? 1 : 0;
  const width = 30;
  const filled = Math.round(ratio * width);
  const eta = s.etaSeconds === null ? '?' : `${Math.round(s.etaSeconds)}s`;
  return `${s.id} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(ratio * 100).toFixed(0)}%  ${s.pointsCopied} points  ${Math.round(s.rate)}/s  ETA ${eta}  ${s.state}`;
}

function describePlan(plan: JobPlan): string {
  const lines: string[] = [];
  const measurements = new Set<string>();
  let windows = 0;
  for (const [i, step] of plan.steps.entries()) {
    switch (step.op) {
      case 'schema':
        lines.push(`${i + 1}. schema   ${step.sources.join(',')} → ${step.target}: databases ${Object.keys(step.dbs).join(', ')}`);
        break;
      case 'copy':
      case 'compare': {
        const n = Math.max(1, Math.ceil((step.span.end - step.span.start) / step.windowMs));
        windows += n;
        measurements.add(step.measurement);
        const who = step.op === 'copy' ? `${step.sources.join('|')} → ${step.targets.join(',')}` : `compare ${step.replicas.join(',')}`;
        lines.push(
          `${i + 1}. ${step.op.padEnd(8)} ${step.measurement} (rp ${step.rp}) ${who}: ${new Date(step.span.start).toISOString()} … ${new Date(step.span.end).toISOString()}, ${n} windows of ${step.windowMs / 1000} s`,
        );
        break;
      }
      case 'drop':
        measurements.add(step.measurement);
        lines.push(`${i + 1}. drop     ${step.measurement} on ${step.backend} (db ${step.db})`);
        break;
    }
  }
  lines.push(
    `${plan.steps.length} steps, ${measurements.size} measurements, ${windows} windows, about ${plan.estimatedPoints} points (${plan.estimatedBytes} bytes of line protocol)`,
  );
  return lines.join('\n');
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`influxdb-proxy-admin: ${err.stack ?? err.message}\n`);
    process.exit(4);
  },
);
