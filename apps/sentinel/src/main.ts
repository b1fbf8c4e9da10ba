import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { SentinelModule } from './sentinel.module';

/** Starts the (still empty) sentinel application context and exits cleanly. */
async function bootstrap(): Promise<void> {
  const app = await NestFactory.createApplicationContext(SentinelModule, { logger: ['error', 'warn', 'log'] });
  await app.close();
}

void bootstrap();
