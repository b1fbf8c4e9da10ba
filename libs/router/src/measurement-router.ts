import { DEFAULT_KEYMAP } from '@app/config';

/** Backend indices a measurement's lines go to. */
export type Route = readonly number[];

interface CacheEntry {
  hash: number;
  bytes: Buffer;
  route: Route | null;
  next: CacheEntry | null;
}

const MAX_CACHED = 1 << 16;

/**
 * Measurement → backends: exact keymap match first, then `_default_`; never a prefix match.
 * Routes are cached by the raw (escaped) measurement bytes of a line, so the hot path looks a
 * measurement up without building a string; only a cache miss decodes the name.
 */
export class MeasurementRouter {
  private readonly routes = new Map<string, Route>();
  private readonly defaultRoute: Route | null;
  private readonly cache = new Map<number, CacheEntry>();
  private cached = 0;

  /**
   * @param keymaps measurement → backend names
   * @param backendIndex backend name → index in the caller's backend array
   * @param unescape decodes raw measurement bytes into the name keymaps use
   */
  constructor(
    keymaps: Record<string, readonly string[]>,
    backendIndex: ReadonlyMap<string, number>,
    private readonly unescape: (buf: Buffer, start: number, end: number) => string,
  ) {
    for (const [measurement, names] of Object.entries(keymaps)) {
      const route = [...new Set(names)].map((name) => {
        const index = backendIndex.get(name);
        if (index === undefined) throw new Error(`keymap ${measurement} names unknown backend ${name}`);
        return index;
      });
      this.routes.set(measurement, route);
    }
    this.defaultRoute = this.routes.get(DEFAULT_KEYMAP) ?? null;
  }

  /** The route for a measurement name, or null when no backend takes it. */
  routeByName(measurement: string): Route | null {
    return this.routes.get(measurement) ?? this.defaultRoute;
  }

  /** The route for the raw measurement bytes buf[start, end) whose FNV-1a hash is `hash`. */
  routeRaw(buf: Buffer, start: number, end: number, hash: number): Route | null {
    for (let e: CacheEntry | null = this.cache.get(hash) ?? null; e; e = e.next) {
      if (sameBytes(e.bytes, buf, start, end)) return e.route;
    }
    const route = this.routeByName(this.unescape(buf, start, end));
    if (this.cached >= MAX_CACHED) {
      this.cache.clear();
      this.cached = 0;
    }
    const bytes = Buffer.from(buf.subarray(start, end));
    this.cache.set(hash, { hash, bytes, route, next: this.cache.get(hash) ?? null });
    this.cached++;
    return route;
  }
}

function sameBytes(a: Buffer, buf: Buffer, start: number, end: number): boolean {
  const n = a.length;
  if (n !== end - start) return false;
  for (let i = 0; i < n; i++) if (a[i] !== buf[start + i]) return false;
  return true;
}
