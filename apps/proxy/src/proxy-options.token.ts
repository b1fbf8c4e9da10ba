/** Injection token of the parsed command line (ProxyOptions). */
export const PROXY_OPTIONS = Symbol('PROXY_OPTIONS');
