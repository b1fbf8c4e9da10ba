export { Spool, SpoolFullError, DEFAULT_SEGMENT_BYTES } from './spool';
export type { SpoolRecord, SpoolBacklog, SpoolOptions } from './spool';
export { MAX_RECORD_BYTES } from './record-format';
export { SpoolDirLock, SpoolLockedError } from './spool-lock';
