export * from './context-logger';
export * from './log-destination';
export * from './log-flags';
export * from './pino-nest.logger';
export * from './redact';
