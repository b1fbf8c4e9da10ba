import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import yargs from 'yargs';

/** Everything the command line decides, parsed once and handed to AppModule.forRoot. */
export interface ProxyOptions {
  configPath: string;
  node: string;
  spoolDir: string;
  logFilePath?: string;
  logLevel: string;
}

/** The install directory (where package.json is), home of the embedded default config.json. */
export const PROJECT_ROOT = findRoot(__dirname);

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

/**
 * Parses argv. Single- and double-dash long flags are both accepted (`-node p1` as the Go seed
 * took them): yargs' short-option groups are switched off, so `-node` is not `-n -o -d -e`.
 */
export function parseProxyArgs(argv: string[]): ProxyOptions {
  const args = yargs(argv)
    .scriptName('influxdb-proxy')
    .usage('$0 [options]\n\nHigh-availability proxy for InfluxDB 1.x.')
    .parserConfiguration({ 'short-option-groups': false, 'camel-case-expansion': true })
    .option('config', {
      type: 'string',
      description: 'cluster config JSON file (the embedded default is config.json in the install directory)',
      default: resolve(PROJECT_ROOT, 'config.json'),
      defaultDescription: '<install dir>/config.json',
    })
    .option('node', { type: 'string', description: 'name of this proxy in the config\'s "proxies"', default: 'p1' })
    .option('spool-dir', { type: 'string', description: 'directory for per-backend write spools', default: 'spool' })
    .option('log-file-path', { type: 'string', description: 'write logs to this file instead of stdout' })
    .option('log-level', {
      type: 'string',
      choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'],
      default: 'info',
      description: 'least severe level logged',
    })
    .strictOptions()
    .version(false)
    .help()
    .wrap(100)
    .exitProcess(true)
    .parseSync();
  return {
    configPath: resolve(args.config),
    node: args.node,
    spoolDir: resolve(args.spoolDir),
    logFilePath: args.logFilePath ? resolve(args.logFilePath) : undefined,
    logLevel: args.logLevel,
  };
}
