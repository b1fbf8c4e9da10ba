import { Logger } from '@nestjs/common';

/**
 * What a library needs to log: a line at a level, with its own context. Libraries take this interface
 * (or get one from `loggerFor`) instead of importing Nest, so they stay plain TypeScript; the app
 * decides where lines go (Nest's logger, which both apps point at pino through PinoNestLogger).
 * A message may be an object `{ msg, ...fields }`: its fields become the line's fields.
 */
export interface ContextLogger {
  debug(message: unknown): void;
  log(message: unknown): void;
  warn(message: unknown): void;
  error(message: unknown, trace?: string): void;
}

/** A logger for one context (a class or job name), writing through the app's logger once it is set. */
export function loggerFor(context: string): ContextLogger {
  return new Logger(context);
}
