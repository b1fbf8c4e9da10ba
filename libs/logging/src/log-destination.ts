import { mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import pino, { type DestinationStream } from 'pino';
import { createStream, type Options, type RotatingFileStream } from 'rotating-file-stream';

/** How the log file rotates (`--log-rotate-*`); absent: the file is never rotated by the proxy. */
export interface LogRotation {
  /** Rotate when the file reaches this size: a number and B, K, M or G (`100M`). */
  size?: string;
  /** Rotate every interval: a number and s, m, h or d (`1d`); `daily` and `hourly` are accepted. */
  interval?: string;
  /** Rotated files kept beside the live one (`proxy.log.1` … `proxy.log.<keep>`). */
  keep: number;
  /** gzip rotated files (`proxy.log.1.gz`). */
  compress: boolean;
}

/** Where pino writes, and how to reopen (SIGHUP) and close (shutdown) it. */
export interface LogDestination {
  stream?: DestinationStream;
  /** Re-opens the file at its path (after an external logrotate moved it); a no-op otherwise. */
  reopen(): void;
  /** Writes out what is buffered and closes the file (bounded wait). */
  close(): Promise<void>;
}

export class LogOptionError extends Error {}

const SIZE = /^[1-9]\d*[BKMG]$/;
const INTERVAL = /^[1-9]\d*[smhd]$/;

/** `daily`/`hourly` → rotating-file-stream's `1d`/`1h`; checks the forms it accepts. */
export function normalizeRotation(r: LogRotation): LogRotation {
  const interval = r.interval === 'daily' ? '1d' : r.interval === 'hourly' ? '1h' : r.interval;
  if (r.size !== undefined && !SIZE.test(r.size)) {
    throw new LogOptionError(`--log-rotate-size must be a number and B, K, M or G (e.g. 100M), not ${JSON.stringify(r.size)}`);
  }
  if (interval !== undefined && !INTERVAL.test(interval)) {
    throw new LogOptionError(
      `--log-rotate-interval must be daily, hourly or a number and s, m, h or d (e.g. 1d), not ${JSON.stringify(r.interval)}`,
    );
  }
  if (!Number.isInteger(r.keep) || r.keep < 1) throw new LogOptionError('--log-rotate-keep must be a whole number ≥ 1');
  return { ...r, interval };
}

/**
 * stdout (no path); the file at `path`, appended to and reopened on SIGHUP for an external logrotate
 * (no rotation); or the file at `path` rotated by the proxy the classic way: the live file keeps its
 * name, rotated ones become `path.1` (newest) … `path.<keep>`, older ones are deleted.
 */
export function openLogDestination(path: string | undefined, rotation: LogRotation | undefined): LogDestination {
  if (path === undefined) return { stream: undefined, reopen() {}, close: async () => {} };
  if (!rotation || (rotation.size === undefined && rotation.interval === undefined)) {
    const dest = pino.destination({ dest: path, mkdir: true, sync: false });
    return {
      stream: dest,
      reopen: () => dest.reopen(),
      close: async () => {
        try {
          dest.flushSync();
        } catch {
          // not open yet, or already closed: nothing to flush
        }
      },
    };
  }
  mkdirSync(dirname(path), { recursive: true });
  // rotating-file-stream refuses options given as undefined: only the ones in use
  const options: Options = { path: dirname(path) + '/', rotate: rotation.keep };
  if (rotation.size !== undefined) options.size = rotation.size;
  if (rotation.interval !== undefined) options.interval = rotation.interval;
  if (rotation.compress) options.compress = 'gzip';
  const stream: RotatingFileStream = createStream(basename(path), options);
  stream.on('error', (err) => process.stderr.write(`log file ${path}: ${err.message}\n`));
  stream.on('warning', (err) => process.stderr.write(`log rotation of ${path}: ${err.message}\n`));
  return {
    stream,
    reopen() {},
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        stream.end(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
