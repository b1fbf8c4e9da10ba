export * from './line-scanner';
export * from './precision';
