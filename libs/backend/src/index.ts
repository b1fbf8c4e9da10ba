export * from './write-outcome';
export * from './backend-client';
export * from './write-batcher';
export * from './backend';
export * from './backend-observer';
export * from './replay-gate';
export * from './buffer-pool';
export * from './rejected-records';
