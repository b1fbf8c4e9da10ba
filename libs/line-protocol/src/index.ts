export * from './line-scanner';
export * from './precision';
export * from './escape';
