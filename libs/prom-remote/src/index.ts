export * from './remote-messages';
export * from './snappy-block';
