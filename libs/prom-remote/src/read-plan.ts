import {
  type PlannerRouter,
  type PlannerTopology,
  type ReadFence,
  NO_READ_FENCE,
  candidates,
  dataKey,
  defaultSets,
  goRegex,
  keyNames,
} from '@app/query';
import type { PromLabel, PromLabelMatcher, PromQuery, PromSample, PromTimeSeries } from './remote-messages';

/** The label Prometheus keeps a metric's name in; influxd reads it as the measurement. */
export const NAME_LABEL = '__name__';

/**
 * How one remote read query is answered. Backend lists are indices into `topology.backends`, best first
 * (healthy, the proxy's zone first, read-behind replicas last), as `/query` orders them.
 */
export type ReadQueryPlan =
  /** The query names one metric: the first of `candidates` that answers does (the next on a failure). */
  | { kind: 'single'; measurement: string; candidates: number[] }
  /**
   * The name is a pattern or missing: one member of each group answers (failing over within it), for
   * the measurements the keymaps send to that group's set only (its `matcher`, added to the query's own);
   * the series are merged.
   */
  | { kind: 'fanout'; groups: FanoutGroup[] }
  /** Refused before any backend sees it: 400 with `message`. */
  | { kind: 'refused'; message: string }
  /** No backend can answer: 503 with `message`. */
  | { kind: 'unavailable'; message: string };

/** One backend set of a fan-out: its members, best first, and the name matcher keeping its answer to its own measurements. */
export interface FanoutGroup {
  members: number[];
  /** Absent when the set holds every measurement there is (no other set to leave out). */
  matcher?: PromLabelMatcher;
}

/** What the planner needs of the proxy's settings. */
export interface ReadPlanSettings {
  /** promReadMaxRangeWithoutName, in seconds (0: no limit). */
  maxRangeWithoutNameSeconds: number;
}

/**
 * The measurement a query reads when one EQ `__name__` matcher names it; undefined when the name is a
 * pattern (RE, NEQ, NRE) or missing, and the query may then read any measurement. A query with two EQ
 * name matchers that disagree reads nothing anywhere: the first one routes it, the backend finds nothing.
 */
export function measurementOf(query: PromQuery): string | undefined {
  for (const m of query.matchers) if (m.name === NAME_LABEL && m.type === 'EQ') return m.value;
  return undefined;
}

/** Names any regex that matches each of these is taken to match every metric name (`.*`, `.+`, `[a-z_:0-9]+`…). */
const NAME_PROBES = ['a', 'up', 'http_requests_total', 'node:cpu_seconds:rate5m', 'Z9', 'x_y_z_0123456789'];

/**
 * Whether the query narrows the metric names it reads: an EQ `__name__` matcher, or a regex one that
 * leaves out some name. influxd matches a regex unanchored (its storage predicate), so `cpu` narrows and
 * `.*`, `.+` or `a?` do not. NEQ and NRE name matchers exclude names, they do not pick them.
 */
export function narrowsName(query: PromQuery): boolean {
  for (const m of query.matchers) {
    if (m.name !== NAME_LABEL) continue;
    if (m.type === 'EQ') return true;
    if (m.type !== 'RE') continue;
    const re = goRegex(m.value);
    // a pattern JS cannot read narrows nothing the proxy knows of; the backend will judge it
    if (re !== null && !NAME_PROBES.every((name) => re.test(name))) return true;
  }
  return false;
}

/** The guard's refusal text for a query over `rangeSeconds` that names no metric. */
export function wideReadMessage(rangeSeconds: number, limitSeconds: number): string {
  return (
    `remote read query refused by the proxy (promReadMaxRangeWithoutName): it names no metric (no __name__ matcher, ` +
    `or only one matching every name) and spans ${formatSeconds(rangeSeconds)}, more than ${formatSeconds(limitSeconds)}; ` +
    'select a metric by name or read a shorter range'
  );
}

function formatSeconds(s: number): string {
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600}h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60}m`;
  return `${Math.round(s * 1000) / 1000}s`;
}

/**
 * Decides who answers one query. Pure: reads the topology, never talks to a backend. The guard comes
 * first: a query that names no metric over more than the limit is refused whatever the backends' state.
 */
export function planReadQuery(
  query: PromQuery,
  topology: PlannerTopology,
  settings: ReadPlanSettings,
  fence: ReadFence = NO_READ_FENCE,
  /** The client's database: on a proxy serving several, the keys and the hash are that db's. */
  db = '',
): ReadQueryPlan {
  const limit = settings.maxRangeWithoutNameSeconds;
  if (limit > 0 && !narrowsName(query)) {
    const rangeSeconds = (query.endTimestampMs - query.startTimestampMs) / 1000;
    if (rangeSeconds > limit) return { kind: 'refused', message: wideReadMessage(rangeSeconds, limit) };
  }
  const measurement = measurementOf(query);
  if (measurement !== undefined) {
    const set = routerOf(topology, db).routeByName(measurement) ?? [];
    const list = candidates(set, topology, fence);
    if (list.length === 0) return unavailable([set], topology);
    return { kind: 'single', measurement, candidates: list };
  }
  const sets = keymapSets(topology, db);
  const groups = sets.map((set) => candidates(set.members, topology, fence));
  const empty = sets.filter((_s, i) => groups[i].length === 0).map((set) => set.members);
  if (empty.length > 0 || sets.length === 0) return unavailable(empty, topology);
  return {
    kind: 'fanout',
    groups: sets.map((set, i) => (set.matcher ? { members: groups[i], matcher: set.matcher } : { members: groups[i] })),
  };
}

/** The router of the client's db (a single-database proxy has one). */
function routerOf(topology: PlannerTopology, db: string): PlannerRouter {
  return (topology.routers?.multiDb ? topology.routers.forDb(db) : null) ?? topology.router;
}

/**
 * The distinct backend sets the keymaps send measurements to (query-able members only; two entries
 * serving the same URL and db are one), each with the name matcher that keeps a member's answer to the
 * measurements routed to that set: `=~ ^(?:names)$` for the measurements the keymaps name for it, or,
 * for a default set, `!~ ^(?:names)$` for those they send elsewhere. A backend in two sets (a replica
 * of `cpu` and of everything else) then gives each measurement once, from the set it is routed to, as
 * /query reads it, and a replica's series never come twice. The default is one set, or each group of
 * a hash keymap (a measurement no key names may land in any), of the routing reads follow (the one
 * before the change while a rebalance runs). On a proxy serving several databases the keys are `db`'s:
 * `db.m` and `m`, and `db._default_` before `_default_`.
 */
export function keymapSets(topology: PlannerTopology, db = ''): FanoutGroup[] {
  const router = routerOf(topology, db);
  const byKey = new Map<string, { members: number[]; names: string[]; isDefault: boolean }>();
  const entryOf = (route: readonly number[]) => {
    const set = route.filter((i) => !topology.backends[i].config.writeOnly);
    const key = [...new Set(set.map((i) => dataKey(topology.backends[i])))].sort().join('\u0001');
    let entry = byKey.get(key);
    if (!entry && set.length > 0) byKey.set(key, (entry = { members: set, names: [], isDefault: false }));
    return { key, entry };
  };
  const named: { name: string; key: string }[] = [];
  for (const name of keyNames(topology, db)) {
    const route = router.routeByName(name);
    if (!route) continue;
    const { key, entry } = entryOf(route);
    named.push({ name, key });
    entry?.names.push(name);
  }
  for (const route of defaultSets(topology, db)) {
    const { entry } = entryOf(route);
    if (entry) entry.isDefault = true;
  }
  const out: FanoutGroup[] = [];
  for (const [key, entry] of byKey) {
    if (entry.isDefault) {
      const elsewhere = named.filter((n) => n.key !== key).map((n) => n.name);
      out.push(elsewhere.length > 0 ? { members: entry.members, matcher: namesMatcher('NRE', elsewhere) } : { members: entry.members });
    } else {
      out.push({ members: entry.members, matcher: namesMatcher('RE', entry.names) });
    }
  }
  return out;
}

/** `__name__` (not) matching exactly one of `names` (influxd matches regexes unanchored: anchored here). */
function namesMatcher(type: 'RE' | 'NRE', names: readonly string[]): PromLabelMatcher {
  return { type, name: NAME_LABEL, value: `^(?:${names.map(quoteMeta).join('|')})$` };
}

/** A string as a regex matching it literally (as Go's regexp.QuoteMeta). */
function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

function unavailable(sets: readonly (readonly number[])[], topology: PlannerTopology): ReadQueryPlan {
  const why = [...new Set(sets.flat())].map((i) => {
    const b = topology.backends[i];
    return `${b.name} (${b.config.writeOnly ? 'write-only' : 'down'})`;
  });
  return {
    kind: 'unavailable',
    message: why.length > 0 ? `no backend can answer: ${why.join(', ')}` : 'no backend can answer: none is configured',
  };
}

/**
 * The series of several backends' answers to one query as one answer. Series with the same label set,
 * `__name__` included, from different backends are one series (a metric read from two backend sets,
 * e.g. while a keymap moves it): the union of their samples, sorted by time, one sample per timestamp
 * (the first answer's). A series without `__name__` is kept as its backend gave it: influxd (1.6–1.8)
 * leaves the measurement out of the labels it answers, so `{instance="x",job="ext"}` from one backend
 * and the same labels from another are as likely two metrics of one target as one metric, and joining
 * them would mix their samples. Series of one answer are never joined (the backend answered them apart).
 */
export function mergeReadResults(answers: readonly (readonly PromTimeSeries[])[]): PromTimeSeries[] {
  if (answers.length === 1) return answers[0].slice();
  const out: PromTimeSeries[] = [];
  /** label-set key → index in `out` of the named series first seen with it, and which answer gave it */
  const byKey = new Map<string, { at: number; answer: number }>();
  const merged = new Set<number>();
  answers.forEach((series, answer) => {
    for (const s of series) {
      if (!s.labels.some((l) => l.name === NAME_LABEL)) {
        out.push(s);
        continue;
      }
      const key = labelKey(s.labels);
      const seen = byKey.get(key);
      if (seen === undefined || seen.answer === answer) {
        if (seen === undefined) byKey.set(key, { at: out.length, answer });
        out.push({ labels: s.labels, samples: s.samples });
        continue;
      }
      const into = out[seen.at];
      into.samples = into.samples.concat(s.samples);
      merged.add(seen.at);
    }
  });
  for (const at of merged) out[at].samples = sortedUnique(out[at].samples);
  return out;
}

/** Samples sorted by time, the first of equal timestamps kept (Array.prototype.sort is stable). */
function sortedUnique(samples: PromSample[]): PromSample[] {
  const sorted = samples.slice().sort((a, b) => a.timestamp - b.timestamp);
  const out: PromSample[] = [];
  for (const s of sorted) if (out.length === 0 || out[out.length - 1].timestamp !== s.timestamp) out.push(s);
  return out;
}

/** A label set's identity, whatever the order of its labels (influxd gives them sorted; others may not). */
function labelKey(labels: readonly PromLabel[]): string {
  const parts = labels.map((l) => `${l.name}\u0000${l.value}`);
  parts.sort();
  return parts.join('\u0001');
}
