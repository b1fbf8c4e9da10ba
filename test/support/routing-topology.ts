/**
 * A planner topology over four backends, a1 and a2 (group g1) and b1 and b2 (group g2), with the real
 * routing (DatabaseRouters) the proxy builds, for the specs of the query and remote-read planners.
 */
import { type ClusterConfig, DEFAULT_FORBIDDEN_STATEMENTS } from '@app/config';
import type { PlannerBackend, PlannerTopology } from '@app/query';
import { DatabaseRouters } from '@app/router';

export const NAMES = ['a1', 'a2', 'b1', 'b2'];

export type Routing = Pick<ClusterConfig, 'keymaps' | 'hashKeymaps' | 'groups'>;

/** `pinned` on a1; everything else hashed over g1 and g2. */
export const HASHED: Routing = {
  keymaps: { pinned: ['a1'] },
  hashKeymaps: { _default_: ['g1', 'g2'] },
  groups: { g1: ['a1', 'a2'], g2: ['b1', 'b2'] },
};

const plain = (buf: Buffer, s: number, e: number) => buf.toString('utf8', s, e);

/**
 * The topology for `config`; with `databases`, a proxy serving several (each backend maps db `app` to
 * `application`); with `before`, one following a rebalance from that routing.
 */
export function routingTopology(config: Routing, databases?: '*' | string[], before?: Routing): PlannerTopology {
  const backends: PlannerBackend[] = NAMES.map((name) => ({
    name,
    config: { url: `http://${name}:8086`, db: 'own', zone: '', writeOnly: false, dbMap: { app: 'application' } },
    isHealthy: true,
  }));
  const byName = new Map(NAMES.map((n, i) => [n, i]));
  const node = { db: '', databases, zone: '', forbiddenStatements: DEFAULT_FORBIDDEN_STATEMENTS, fanoutCreate: true };
  const routers = new DatabaseRouters(config, node, byName, plain, before);
  return { backends, byName, node, router: routers.single, routers, config };
}

/** A set of backend indices as their sorted names, joined by `+` ("a1+a2"). */
export function setNames(set: readonly number[]): string {
  return set
    .map((i) => NAMES[i])
    .sort()
    .join('+');
}
