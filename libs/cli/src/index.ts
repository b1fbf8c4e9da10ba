export * from './install-dir';
export * from './command-line';
