export * from './remote-messages';
export * from './snappy-block';
export * from './samples-to-lines';
export * from './snappy-length';
export * from './decode-write-request';
export * from './write-request-wire';
