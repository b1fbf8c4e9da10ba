export * from './install-dir';
export * from './command-line';
export * from './config-rules';
