import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import express from 'express';
import pino from 'pino';
import { AppModule } from './app.module';
import { parseProxyArgs } from './cli/proxy-options';
import { ClusterStateService } from './cluster/cluster-state.service';
import { ProxyServer } from './http/proxy-server';
import { PinoNestLogger } from './pino-nest.logger';

async function bootstrap(): Promise<void> {
  const options = parseProxyArgs(process.argv.slice(2));
  const logger = pino(
    { level: options.logLevel, base: { node: options.node } },
    options.logFilePath ? pino.destination({ dest: options.logFilePath, mkdir: true, sync: false }) : undefined,
  );
  const expressApp = express();
  expressApp.disable('x-powered-by');
  const app = await NestFactory.create(AppModule.forRoot(options), new ExpressAdapter(expressApp), {
    logger: new PinoNestLogger(logger),
  });
  try {
    await app.get(ClusterStateService).start();
  } catch (err) {
    logger.fatal(`cannot start: ${(err as Error).message}`);
    await app.close();
    process.exitCode = 1;
    return;
  }
  await app.init();
  const server = app.get(ProxyServer);
  await server.listen(expressApp);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: no longer accepting; finishing in-flight writes`);
    await server.close();
    await app.close(); // drains every backend's batches
    logger.info('stopped');
    logger.flush();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

void bootstrap();
