import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import express from 'express';
import { AppModule } from './app.module';
import type { ProxyOptions } from './cli/proxy-options';
import { ClusterStateService } from './cluster/cluster-state.service';
import { MembershipService } from './cluster/membership.service';
import { ProxyServer } from './http/proxy-server';
import { PinoNestLogger, openRootLogger } from '@app/logging';
import { SpoolDirLock, SpoolLockedError } from '@app/spool';
import { mkdirSync } from 'node:fs';
import type { ReadyMessage } from './workers/group-channel';
import { groupChannel } from './workers/group-channel';
import {
  EXIT_SPOOL_LOCKED,
  groupLockPath,
  groupLogSettings,
  orphanSpoolWarnings,
  workerLockPath,
  workerSpoolDir,
} from './workers/worker-layout';

/** Runs the proxy in this process: the single process of `--workers 1`, or one worker of a group. */
export async function runProxy(parsed: ProxyOptions, shutdownLimitMs: number): Promise<void> {
  const supervised = parsed.workers > 1;
  const slot = groupChannel.slot;
  // stdout, or --log-file-path (rotated by --log-rotate-size / --log-rotate-interval, else reopened on SIGHUP)
  const { logger, exit } = supervised
    ? openRootLogger(groupLogSettings(parsed, slot), { node: parsed.node, worker: slot })
    : openRootLogger(parsed, { node: parsed.node });
  // A worker (or the single process) owns its slot's spools; the single process also holds the group's
  // lock that a supervisor holds otherwise. Two live owners of one spool are impossible: the second refuses to start.
  const spoolRoot = parsed.spoolDir;
  const locks: SpoolDirLock[] = [];
  try {
    mkdirSync(spoolRoot, { recursive: true });
    if (!supervised) locks.push(SpoolDirLock.acquire(groupLockPath(spoolRoot)));
    locks.push(SpoolDirLock.acquire(workerLockPath(spoolRoot, slot)));
  } catch (err) {
    for (const l of locks) l.release();
    logger.fatal(`cannot start: ${(err as Error).message}`);
    await exit(err instanceof SpoolLockedError ? EXIT_SPOOL_LOCKED : 1);
  }
  process.on('exit', () => locks.forEach((l) => l.release()));
  // A signal before the listener is up finds nothing to drain (no write was accepted yet): exit at once,
  // as node's default action would, but with the locks released and the logs written out. A supervisor
  // stopping its group may send it to a worker still starting.
  let onSignal = (signal: string) => {
    logger.info(`${signal} while starting: exiting`);
    void exit(0);
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  if (!supervised) for (const warning of orphanSpoolWarnings(spoolRoot, 1)) logger.warn(warning);
  const options = { ...parsed, spoolDir: workerSpoolDir(spoolRoot, slot) };
  const expressApp = express();
  expressApp.disable('x-powered-by');
  // Express's last-resort error page shows the stack trace unless env is production
  expressApp.set('env', 'production');
  const app = await NestFactory.create(AppModule.forRoot(options), new ExpressAdapter(expressApp), {
    logger: new PinoNestLogger(logger),
  });
  try {
    await app.get(ClusterStateService).start();
  } catch (err) {
    logger.fatal(`cannot start: ${(err as Error).message}`);
    await app.close();
    await exit(1); // at once: a config store client's reconnect timers must not hold a failed start
  }
  await app.init();
  const server = app.get(ProxyServer);
  try {
    await server.listen(expressApp);
  } catch (err) {
    // e.g. the port is taken or tlsCert/tlsKey cannot be read
    logger.fatal(`cannot listen: ${(err as Error).message}`);
    await app.close();
    await exit(1);
  }
  // the membership record only now: a duplicate --node that could not listen has written (and so deletes) nothing
  await app.get(MembershipService).start();
  if (supervised) {
    const ready: ReadyMessage = { kind: 'influxdb-proxy:ready' };
    process.send?.(ready);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: no longer accepting; finishing in-flight writes`);
    // the listener's drain is bounded (its connections are destroyed past it) and so are the backends'
    // sends (their timeouts); this is the last word if something still hangs: a shutdown that never
    // ends would leave the process holding its port and its clients' sockets
    const deadline = setTimeout(() => {
      logger.error(`${signal}: shutdown not done after ${shutdownLimitMs / 1000} s; exiting now`);
      void exit(1);
    }, shutdownLimitMs);
    deadline.unref();
    await server.close();
    await app.close(); // drains every backend's batches
    logger.info('stopped');
    await exit(0);
  };
  onSignal = (signal) => void stop(signal);
}
