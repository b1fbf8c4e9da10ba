/** Injection token of the parsed command line (SentinelOptions). */
export const SENTINEL_OPTIONS = Symbol('SENTINEL_OPTIONS');
