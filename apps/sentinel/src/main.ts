import 'reflect-metadata';
import { PinoNestLogger, openRootLogger } from '@app/logging';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { parseSentinelArgs } from './cli/sentinel-options';
import { SentinelMembershipService } from './membership/sentinel-membership.service';
import { SentinelModule } from './sentinel.module';
import { SentinelService } from './sentinel.service';

async function bootstrap(): Promise<void> {
  const options = parseSentinelArgs(process.argv.slice(2));
  // the proxy's logging: pino JSON lines on stdout, or --log-file-path (rotated, or reopened on SIGHUP)
  const { logger, exit } = openRootLogger(options, { sentinel: options.name });
  const app = await NestFactory.create<NestExpressApplication>(SentinelModule.forRoot(options), {
    logger: new PinoNestLogger(logger),
  });
  app.disable('x-powered-by');
  app.set('env', 'production');
  try {
    await app.get(SentinelService).start();
  } catch (err) {
    logger.fatal(`cannot start: ${(err as Error).message}`);
    await app.close().catch(() => undefined);
    await exit(1); // at once: a store client's reconnect timers must not hold a failed start
  }
  try {
    await app.listen(options.listen.port, options.listen.host);
  } catch (err) {
    logger.fatal(`cannot listen on ${options.listen.host}:${options.listen.port}: ${(err as Error).message}`);
    await app.close().catch(() => undefined);
    await exit(1);
  }
  // the record only now: a duplicate --name that could not listen has written (and so deletes) nothing
  await app.get(SentinelMembershipService).start();
  logger.info(`sentinel ${options.name} serving /meta and /health on ${options.listen.host}:${options.listen.port}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: resigning and stopping`);
    await app.close();
    logger.info('stopped');
    await exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

void bootstrap();
