/**
 * The logging flags bin/influxdb-proxy and bin/influxdb-sentinel share (added to each yargs parser with
 * withLogFlags(), turned into LogSettings with logSettings()), and the pino root logger both run on.
 */
import pino, { type Logger } from 'pino';
import type { Argv } from 'yargs';
import { resolve } from 'node:path';
import { type LogDestination, type LogRotation, LogOptionError, normalizeRotation, openLogDestination } from './log-destination';

export interface LogSettings {
  /** Logs go to this file instead of stdout. */
  logFilePath?: string;
  /** Rotation of that file by the process itself (undefined: none; an external logrotate sends SIGHUP). */
  logRotation?: LogRotation;
  logLevel: string;
}

/** Adds --log-file-path, --log-level and --log-rotate-size / -interval / -keep / -compress. */
export function withLogFlags<T>(argv: Argv<T>) {
  return argv
    .option('log-file-path', { type: 'string', description: 'write logs to this file instead of stdout' })
    .option('log-level', {
      type: 'string',
      choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'],
      default: 'info',
      description: 'least severe level logged',
    })
    .option('log-rotate-size', {
      type: 'string',
      description: 'rotate the log file when it reaches this size (e.g. 100M; B, K, M, G)',
    })
    .option('log-rotate-interval', {
      type: 'string',
      description: 'rotate the log file every interval: daily, hourly, or e.g. 12h, 1d',
    })
    .option('log-rotate-keep', { type: 'number', description: 'rotated log files kept (FILE.1 … FILE.N)', default: 7 })
    .option('log-rotate-compress', { type: 'boolean', description: 'gzip rotated log files', default: false });
}

/** The parsed flags as LogSettings; throws LogOptionError naming the flag when they do not fit together. */
export function logSettings(args: {
  logFilePath?: string;
  logLevel: string;
  logRotateSize?: string;
  logRotateInterval?: string;
  logRotateKeep: number;
  logRotateCompress: boolean;
}): LogSettings {
  let logRotation: LogRotation | undefined;
  if (args.logRotateSize !== undefined || args.logRotateInterval !== undefined) {
    if (!args.logFilePath) throw new LogOptionError('--log-rotate-size / --log-rotate-interval need --log-file-path');
    logRotation = normalizeRotation({
      size: args.logRotateSize,
      interval: args.logRotateInterval,
      keep: args.logRotateKeep,
      compress: args.logRotateCompress,
    });
  }
  return { logFilePath: args.logFilePath ? resolve(args.logFilePath) : undefined, logRotation, logLevel: args.logLevel };
}

/**
 * The process's pino root logger: JSON lines with `base` fields on stdout, or on --log-file-path
 * (rotated by --log-rotate-*, else reopened on SIGHUP for an external logrotate).
 */
export function openRootLogger(settings: LogSettings, base: Record<string, unknown>): RootLogger {
  const logs = openLogDestination(settings.logFilePath, settings.logRotation);
  const logger = pino({ level: settings.logLevel, base }, logs.stream);
  if (settings.logFilePath) process.on('SIGHUP', () => logs.reopen());
  return {
    logger,
    logs,
    async exit(code) {
      logger.flush();
      await logs.close();
      process.exit(code);
    },
  };
}

export interface RootLogger {
  logger: Logger;
  logs: LogDestination;
  /** Writes out the logs and ends the process with `code` (at once: no timer of a store client may hold it). */
  exit(code: number): Promise<never>;
}
