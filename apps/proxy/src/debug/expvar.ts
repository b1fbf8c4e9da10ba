/**
 * influxd's /debug/vars format (services/httpd/handler.go, serveExpvar): one JSON object whose
 * members are written one per line; every statistic is `{"name","tags","values"}`, which is what
 * Telegraf's inputs.influxdb turns into a point (measurement `influxdb_<name>`), beside `memstats`
 * (Go's runtime.MemStats) and `cmdline`.
 */

/** One statistic: what Telegraf reads as measurement `influxdb_<name>` with these tags and fields. */
export interface ExpvarStatistic {
  name: string;
  tags: Record<string, string> | null;
  values: Record<string, number>;
}

/** The members in the order they are written; keys are unique (a statistic's key names its tags too). */
export type ExpvarMembers = [key: string, value: unknown][];

/** Renders the members as influxd does: `{`, one `"key": value` per line joined by `,`, `}` and a newline. */
export function renderExpvar(members: ExpvarMembers): string {
  let out = '{\n';
  members.forEach(([key, value], i) => {
    out += `${i === 0 ? '' : ',\n'}${JSON.stringify(key)}: ${JSON.stringify(value)}`;
  });
  return `${out}\n}\n`;
}

/** What the process knows of its memory and collections, read where they are kept. */
export interface ProcessFigures {
  memory: NodeJS.MemoryUsage;
  /** Garbage collections seen since start, their summed pause and the end of the last one (ns since the epoch). */
  gc: { count: number; pauseTotalNs: number; lastEndNs: number };
}

/**
 * Go's runtime.MemStats names, filled from Node's figures where one means the same thing: Sys is
 * the resident set (memory held from the OS), HeapSys the V8 heap's size, HeapAlloc/HeapInuse/Alloc
 * the bytes of live heap objects, HeapIdle the heap's unused part; NumGC, PauseTotalNs and LastGC
 * from the `gc` performance entries. Names Node has no figure for (TotalAlloc, Mallocs, Frees,
 * HeapObjects, NextGC, the span and stack figures) are left out rather than made up.
 */
export function memstatsOf(figures: ProcessFigures): Record<string, number | boolean> {
  const { memory, gc } = figures;
  return {
    Alloc: memory.heapUsed,
    Sys: memory.rss,
    HeapAlloc: memory.heapUsed,
    HeapSys: memory.heapTotal,
    HeapIdle: Math.max(0, memory.heapTotal - memory.heapUsed),
    HeapInuse: memory.heapUsed,
    LastGC: gc.lastEndNs,
    PauseTotalNs: gc.pauseTotalNs,
    NumGC: gc.count,
    EnableGC: true,
  };
}

/** Values that are a state, not a count: across a proxy's workers the worst one stands (healthy only if every worker's backend is). */
const MERGED_BY_MIN = new Set(['healthy']);
const MERGED_BY_MAX = new Set(['refusing', 'spoolOldestAgeMs', 'maxRssKiB']);

/**
 * One proxy's statistics from its workers' (`--workers N`): statistics with the same name and tags
 * are one, their values summed (counts, backlogs, bytes), except states: `healthy` the least,
 * `refusing` and ages the most. The order is the first worker's, then what only others have.
 */
export function mergeStatistics(perWorker: ExpvarStatistic[][]): ExpvarStatistic[] {
  const merged = new Map<string, ExpvarStatistic>();
  for (const list of perWorker) {
    for (const stat of list) {
      const key = `${stat.name}\0${JSON.stringify(stat.tags)}`;
      const into = merged.get(key);
      if (!into) {
        merged.set(key, { name: stat.name, tags: stat.tags, values: { ...stat.values } });
        continue;
      }
      for (const [field, value] of Object.entries(stat.values)) {
        const had = into.values[field];
        if (had === undefined) into.values[field] = value;
        else if (MERGED_BY_MIN.has(field)) into.values[field] = Math.min(had, value);
        else if (MERGED_BY_MAX.has(field)) into.values[field] = Math.max(had, value);
        else into.values[field] = had + value;
      }
    }
  }
  return [...merged.values()];
}

/** Memory and collections of a proxy's workers together: every figure is summed (each worker is a process). */
export function mergeMemstats(perWorker: Record<string, number | boolean>[]): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = {};
  for (const stats of perWorker) {
    for (const [name, value] of Object.entries(stats)) {
      const had = out[name];
      if (typeof value !== 'number' || typeof had !== 'number') out[name] = had ?? value;
      else out[name] = name === 'LastGC' ? Math.max(had, value) : had + value;
    }
  }
  return out;
}
