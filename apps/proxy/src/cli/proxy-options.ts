import { type ConfigStoreOptions, storeOptions, StoreAddressError, withStoreFlags } from '@app/cluster-store';
import { INSTALL_DIR, parseCommandLine } from '@app/cli';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import yargs from 'yargs';
import { type LogSettings, LogOptionError, logSettings, withLogFlags } from '@app/logging';

/** Everything the command line decides, parsed once and handed to AppModule.forRoot. */
export interface ProxyOptions extends LogSettings {
  /** The config file (the file store's path; unused when the store is Redis or etcd). */
  configPath: string;
  /** Where the cluster config lives: the file (default), Redis or etcd. */
  store: ConfigStoreOptions;
  /** Seconds a membership record lives without a heartbeat (heartbeats come every ttl/3). */
  membershipTtl: number;
  node: string;
  spoolDir: string;
  /** Processes serving the listener (`--workers`; 1: one process, no supervisor). */
  workers: number;
  /** With a config file: where data-movement jobs are kept (`--job-state-file`, default `<spool-dir>/jobs.json`). */
  jobStateFile?: string;
  /** Copy throttle of a data-movement job whose request names none, when this proxy runs it (points per second; 0: unthrottled). */
  jobPointsPerSecond?: number;
  /** Points a data-movement copy window is sized for (`--job-points-per-window`; absent: the engine's default). */
  jobPointsPerWindow?: number;
}

/** Points per second a data-movement job copies when its request does not say (docs/data-movement.md says why). */
export const DEFAULT_JOB_POINTS_PER_SECOND = 100_000;

/** The install directory (where package.json is), home of the embedded default config.json. */
export const PROJECT_ROOT = INSTALL_DIR;

/**
 * Parses argv. Single- and double-dash long flags are both accepted (`-node p1` as the Go seed
 * took them): yargs' short-option groups are switched off, so `-node` is not `-n -o -d -e`.
 */
export function parseProxyArgs(argv: string[]): ProxyOptions {
  const parser = withLogFlags(
    withStoreFlags(
      yargs()
        .scriptName('influxdb-proxy')
        .usage('$0 [options]\n\nHigh-availability proxy for InfluxDB 1.x.')
        .parserConfiguration({ 'short-option-groups': false, 'camel-case-expansion': true }),
    ),
  )
    .option('membership-ttl', {
      type: 'number',
      description: 'seconds this proxy stays listed in /meta without a heartbeat (heartbeats every ttl/3)',
      default: 30,
    })
    .option('node', { type: 'string', description: 'name of this proxy in the config\'s "proxies"', default: 'p1' })
    .option('spool-dir', { type: 'string', description: 'directory for per-backend write spools', default: 'spool' })
    .option('workers', {
      type: 'number',
      description: 'worker processes sharing the listener, each with its own spool (1: a single process)',
      default: availableParallelism(),
      defaultDescription: 'the number of cores',
    })
    .option('job-state-file', {
      type: 'string',
      description: 'with a config file: where this proxy keeps the data-movement jobs it runs',
      defaultDescription: '<spool-dir>/jobs.json',
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
  const configPath = resolve(args.config ?? resolve(PROJECT_ROOT, 'config.json'));
  let store: ConfigStoreOptions;
  try {
    store = storeOptions(args, configPath);
  } catch (err) {
    if (!(err instanceof StoreAddressError)) throw err;
    console.error(`influxdb-proxy: ${err.message}`);
    process.exit(2);
  }
  let logs: LogSettings;
  try {
    logs = logSettings(args);
  } catch (err) {
    if (!(err instanceof LogOptionError)) throw err;
    console.error(`influxdb-proxy: ${err.message}`);
    process.exit(2);
  }
  if (!(args.membershipTtl > 0)) {
    console.error('influxdb-proxy: --membership-ttl must be a positive number of seconds');
    process.exit(2);
  }
  if (!Number.isInteger(args.workers) || args.workers < 1) {
    console.error('influxdb-proxy: --workers must be a whole number of at least 1');
    process.exit(2);
  }
  if (!Number.isInteger(args.jobPointsPerSecond) || args.jobPointsPerSecond < 0) {
    console.error('influxdb-proxy: --job-points-per-second must be a whole number of at least 0');
    process.exit(2);
  }
  if (args.jobPointsPerWindow !== undefined && !(Number.isInteger(args.jobPointsPerWindow) && args.jobPointsPerWindow >= 1)) {
    console.error('influxdb-proxy: --job-points-per-window must be a whole number of at least 1');
    process.exit(2);
  }
  return {
    configPath,
    store,
    membershipTtl: args.membershipTtl,
    node: args.node,
    spoolDir: resolve(args.spoolDir),
    workers: args.workers,
    jobStateFile: resolve(args.jobStateFile ?? join(args.spoolDir, 'jobs.json')),
    jobPointsPerSecond: args.jobPointsPerSecond,
    jobPointsPerWindow: args.jobPointsPerWindow,
    ...logs,
  };
}

/** The store flags are shared with bin/influxdb-sentinel: see @app/cluster-store's store-flags. */
export { storeOptions };
