import type { LoggerService } from '@nestjs/common';
import type { Level, Logger as PinoLogger } from 'pino';
import { maskSecretsInLogText } from './redact';

/**
 * Nest's logger calls, written as pino JSON lines with the caller's context. A message may be an
 * object `{ msg, ...fields }`: its fields become the line's fields (e.g. `reqId` on per-request lines).
 * Every message and trace goes through maskSecretsInLogText, a last net: callers mask the queries and
 * URLs they log themselves (maskQueryPasswords, maskPasswordParams) before quoting them.
 */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly pino: PinoLogger) {}

  log(message: unknown, context?: string): void {
    this.write('info', message, context);
  }
  error(message: unknown, trace?: string, context?: string): void {
    // Nest passes (message, context) when there is no trace
    if (context === undefined && trace !== undefined && !trace.includes('\n')) this.write('error', message, trace);
    else this.write('error', message, context, trace === undefined ? undefined : maskSecretsInLogText(trace));
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.write('trace', message, context);
  }
  fatal(message: unknown, context?: string): void {
    this.write('fatal', message, context);
  }

  private write(level: Level, message: unknown, context: string | undefined, trace?: string): void {
    if (!this.pino.isLevelEnabled(level)) return;
    if (message !== null && typeof message === 'object' && !(message instanceof Error)) {
      const { msg, ...fields } = message as { msg?: unknown } & Record<string, unknown>;
      this.pino[level]({ context, ...fields, trace }, maskSecretsInLogText(String(msg ?? '')));
      return;
    }
    const text = message instanceof Error ? (message.stack ?? message.message) : String(message);
    this.pino[level]({ context, trace }, maskSecretsInLogText(text));
  }
}
