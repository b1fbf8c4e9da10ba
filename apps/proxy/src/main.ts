import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import express from 'express';
import { AppModule } from './app.module';
import { parseProxyArgs } from './cli/proxy-options';
import { ClusterStateService } from './cluster/cluster-state.service';
import { MembershipService } from './cluster/membership.service';
import { ProxyServer } from './http/proxy-server';
import { PinoNestLogger, openRootLogger } from '@app/logging';

/** The longest a SIGTERM/SIGINT shutdown may take: the listener's 30 s drain, then the backends' flush. */
const SHUTDOWN_LIMIT_MS = 90_000;

async function bootstrap(): Promise<void> {
  const options = parseProxyArgs(process.argv.slice(2));
  // stdout, or --log-file-path (rotated by --log-rotate-size / --log-rotate-interval, else reopened on SIGHUP)
  const { logger, exit } = openRootLogger(options, { node: options.node });
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

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: no longer accepting; finishing in-flight writes`);
    // the listener's drain is bounded (its connections are destroyed past it) and so are the backends'
    // sends (their timeouts); this is the last word if something still hangs: a shutdown that never
    // ends would leave the process holding its port and its clients' sockets
    const deadline = setTimeout(() => {
      logger.error(`${signal}: shutdown not done after ${SHUTDOWN_LIMIT_MS / 1000} s; exiting now`);
      void exit(1);
    }, SHUTDOWN_LIMIT_MS);
    deadline.unref();
    await server.close();
    await app.close(); // drains every backend's batches
    logger.info('stopped');
    await exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

void bootstrap();
