import { type ConfigStoreOptions, StoreAddressError, storeOptions, withStoreFlags } from '@app/cluster-store';
import { INSTALL_DIR, PACKAGE_VERSION, parseCommandLine } from '@app/cli';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import yargs from 'yargs';
import { type LogSettings, LogOptionError, logSettings, withLogFlags } from '@app/logging';

/** Everything the command line decides, parsed once and handed to SentinelModule.forRoot. */
export interface SentinelOptions extends LogSettings {
  /** This sentinel's name among the sentinels (--name). */
  name: string;
  store: ConfigStoreOptions;
  /** Where GET /meta and GET /health listen. */
  listen: { host: string; port: number };
  /** Milliseconds between probes of each backend, and between the leader's publications. */
  intervalMs: number;
  /** A probe (ping and query together) that takes longer fails. */
  timeoutMs: number;
  /** Failed probes in a row that mark a backend down (--down-after; the config's backends use the same name). */
  downAfter: number;
  /** Good probes in a row that bring a down backend up (--up-after). */
  upAfter: number;
  /** Leadership lasts this long without renewal; a dead leader is replaced within it. */
  leaderTtlMs: number;
  /** Proxies replaying to one backend at once. */
  replaySlots: number;
  /** A proxy stops replaying this long after it last saw its slot (and the leader re-grants no sooner). */
  slotTtlMs: number;
  /** Seconds this sentinel's record outlives its last heartbeat. */
  membershipTtl: number;
  /** Proxies that must report failing writes to mark an answering backend down for all (0: never). */
  writeFailureReports: number;
  /** Copy throttle of a data-movement job whose request names none (points per second; 0: unthrottled). */
  jobPointsPerSecond?: number;
  /** Points a data-movement copy window is sized for (`--job-points-per-window`; absent: the engine's default). */
  jobPointsPerWindow?: number;
}

/** Points per second a data-movement job copies when its request does not say (docs/data-movement.md says why). */
export const DEFAULT_JOB_POINTS_PER_SECOND = 100_000;

/** The install directory (where package.json is), home of the embedded default config.json. */
export { INSTALL_DIR };

/** influxdb-proxy's version, as package.json says (what the sentinel reports in its membership record). */
export const SENTINEL_VERSION: string = PACKAGE_VERSION;

/** Milliseconds proxies wait for a new publication before they fall back to their own checks. */
export function staleAfterMs(options: Pick<SentinelOptions, 'intervalMs' | 'leaderTtlMs'>): number {
  // a few intervals, and never less than a takeover takes (the old leader's TTL, then one publication)
  return Math.max(3 * options.intervalMs, options.leaderTtlMs + 2 * options.intervalMs);
}

/** A command-line value that cannot be used; the message names the flag. */
export class SentinelOptionError extends Error {
  override readonly name = 'SentinelOptionError';
}

/** Failed probes in a row that mark a backend down, good ones that bring it back: the config's downAfter/upAfter defaults. */
const DOWN_AFTER = 3;
const UP_AFTER = 2;

/** Parses argv (single- and double-dash long flags alike, as the proxy takes them). */
export function parseSentinelArgs(argv: string[]): SentinelOptions {
  const parser = withLogFlags(
    withStoreFlags(
      yargs()
        .scriptName('influxdb-sentinel')
        .usage(
          '$0 [options]\n\nWatches the InfluxDB backends for a fleet of influxdb-proxy processes sharing a Redis or etcd ' +
            'config store: one sentinel leads, probes every backend and publishes its health and replay slots.',
        )
        .parserConfiguration({ 'short-option-groups': false, 'camel-case-expansion': true }),
    ),
  )
    .option('name', { type: 'string', description: 'this sentinel’s name among the sentinels', defaultDescription: 'the host name' })
    .option('listen', { type: 'string', description: 'host:port of GET /meta and GET /health', default: '127.0.0.1:8090' })
    .option('check-interval', { type: 'number', description: 'seconds between probes of each backend (and publications)', default: 1 })
    .option('check-timeout', { type: 'number', description: 'seconds a probe (/ping, then SHOW DATABASES) may take', default: 2 })
    // defaults applied below: a deprecated name given instead must be told from the default
    .option('down-after', {
      type: 'number',
      description: 'failed probes in a row that mark a backend down',
      defaultDescription: String(DOWN_AFTER),
    })
    .option('up-after', { type: 'number', description: 'good probes in a row that bring it back up', defaultDescription: String(UP_AFTER) })
    // the names before downAfter/upAfter, kept so that existing command lines still work (not in --help)
    .option('fall', { type: 'number', hidden: true })
    .option('rise', { type: 'number', hidden: true })
    .option('leader-ttl', {
      type: 'number',
      description: 'seconds leadership lasts without renewal (a dead leader is replaced within it)',
      default: 5,
    })
    .option('replay-slots', { type: 'number', description: 'proxies replaying their spool to one backend at once', default: 1 })
    .option('slot-ttl', { type: 'number', description: 'seconds a proxy keeps a replay slot it can no longer see renewed', default: 10 })
    .option('membership-ttl', { type: 'number', description: 'seconds this sentinel stays listed without a heartbeat', default: 10 })
    .option('write-failure-reports', {
      type: 'number',
      description: 'proxies reporting failing writes that mark an answering backend down for all (0: off)',
      default: 1,
    })
    .option('job-points-per-second', {
      type: 'number',
      description: 'copy throttle of a data-movement job that names none (0: unthrottled)',
      default: DEFAULT_JOB_POINTS_PER_SECOND,
    })
    .option('job-points-per-window', {
      type: 'number',
      description: 'points a data-movement copy window is sized for (memory per step, and what a resumed job copies again)',
      defaultDescription: 'the engine’s',
    });
  const args = parseCommandLine(parser, argv);
  try {
    const store = storeOptions(args, resolve(args.config ?? resolve(INSTALL_DIR, 'config.json')));
    const seconds = (flag: string, value: number, min = 0) => {
      if (!(value > min)) throw new SentinelOptionError(`--${flag} must be more than ${min} seconds`);
      return Math.round(value * 1000);
    };
    const count = (flag: string, value: number, min: number) => {
      if (!Number.isInteger(value) || value < min) throw new SentinelOptionError(`--${flag} must be a whole number ≥ ${min}`);
      return value;
    };
    /** A count given by its flag or by the flag's deprecated name (one of them), else its default. */
    const countOrOldName = (flag: string, value: number | undefined, oldFlag: string, oldValue: number | undefined, fallback: number) => {
      if (oldValue === undefined) return count(flag, value ?? fallback, 1);
      if (value !== undefined) throw new SentinelOptionError(`--${oldFlag} is the old name of --${flag}: give only --${flag}`);
      return count(oldFlag, oldValue, 1);
    };
    const options: SentinelOptions = {
      name: args.name?.trim() || hostname(),
      store,
      listen: parseListen(args.listen),
      intervalMs: seconds('check-interval', args.checkInterval),
      timeoutMs: seconds('check-timeout', args.checkTimeout),
      downAfter: countOrOldName('down-after', args.downAfter, 'fall', args.fall, DOWN_AFTER),
      upAfter: countOrOldName('up-after', args.upAfter, 'rise', args.rise, UP_AFTER),
      leaderTtlMs: seconds('leader-ttl', args.leaderTtl),
      replaySlots: count('replay-slots', args.replaySlots, 1),
      slotTtlMs: seconds('slot-ttl', args.slotTtl),
      membershipTtl: seconds('membership-ttl', args.membershipTtl) / 1000,
      writeFailureReports: count('write-failure-reports', args.writeFailureReports, 0),
      jobPointsPerSecond: count('job-points-per-second', args.jobPointsPerSecond, 0),
      jobPointsPerWindow: args.jobPointsPerWindow === undefined ? undefined : count('job-points-per-window', args.jobPointsPerWindow, 1),
      ...logSettings(args),
    };
    checkTimings(options);
    return options;
  } catch (err) {
    if (!(err instanceof StoreAddressError) && !(err instanceof SentinelOptionError) && !(err instanceof LogOptionError)) throw err;
    console.error(`influxdb-sentinel: ${err.message}`);
    process.exit(2);
  }
}

/** The leader publishes every interval and must have one confirmed within its TTL; proxies poll at half an interval. */
export function checkTimings(o: Pick<SentinelOptions, 'intervalMs' | 'leaderTtlMs' | 'slotTtlMs' | 'store'>): void {
  if (o.leaderTtlMs < 2 * o.intervalMs) {
    throw new SentinelOptionError('--leader-ttl must be at least twice --check-interval (the leader renews it as it publishes)');
  }
  if (o.store.kind === 'etcd' && o.leaderTtlMs % 1000 !== 0) {
    throw new SentinelOptionError('--leader-ttl must be whole seconds with etcd (a lease TTL)');
  }
  if (o.slotTtlMs < 2 * o.intervalMs) {
    throw new SentinelOptionError('--slot-ttl must be at least twice --check-interval (proxies re-read their slot every half interval)');
  }
}

/** `host:port`, `:port` (all interfaces) or `[v6]:port`. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new SentinelOptionError(`--listen: ${JSON.stringify(text)} is not host:port`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}
