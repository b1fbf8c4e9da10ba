import 'reflect-metadata';
import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { parseSentinelArgs } from './cli/sentinel-options';
import { SentinelModule } from './sentinel.module';
import { SentinelService } from './sentinel.service';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
/** --log-level (pino's names, as the proxy takes them) → Nest's levels at or above it. */
const FROM: Record<string, LogLevel> = { fatal: 'fatal', error: 'error', warn: 'warn', info: 'log', debug: 'debug', trace: 'verbose' };

async function bootstrap(): Promise<void> {
  const options = parseSentinelArgs(process.argv.slice(2));
  const logger = new ConsoleLogger(`sentinel:${options.name}`, {
    json: true,
    colors: false,
    logLevels: LEVELS.slice(0, LEVELS.indexOf(FROM[options.logLevel] ?? 'log') + 1),
  });
  const app = await NestFactory.create<NestExpressApplication>(SentinelModule.forRoot(options), { logger });
  app.disable('x-powered-by');
  app.set('env', 'production');
  try {
    await app.get(SentinelService).start();
  } catch (err) {
    logger.fatal(`cannot start: ${(err as Error).message}`);
    await app.close().catch(() => undefined);
    process.exit(1); // at once: a store client's reconnect timers must not hold a failed start
  }
  try {
    await app.listen(options.listen.port, options.listen.host);
  } catch (err) {
    logger.fatal(`cannot listen on ${options.listen.host}:${options.listen.port}: ${(err as Error).message}`);
    await app.close().catch(() => undefined);
    process.exit(1);
  }
  logger.log(`sentinel ${options.name} serving /meta and /health on ${options.listen.host}:${options.listen.port}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: resigning and stopping`);
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

void bootstrap();
