export * from './cluster-config';
export * from './cluster-config.schema';
export * from './config.provider';
export * from './file-config.provider';
export * from './routing-change';
