import type { JobStore } from '@app/cluster-store';
import type { ClusterConfig } from '@app/config';
import type { RoutingConfig } from '@app/router';
import { type JobEngine, type JobKind, type JobPlan, type JobRecord, JobRefusedError, type JobRequest } from './job-model';

/**
 * What the admin endpoints (proxy, sentinel) and the admin CLI share: turning what an operator sent
 * into a JobRequest, storing it, and what /meta and `jobs` show of a job.
 */

const KINDS: readonly JobKind[] = ['recover', 'resync', 'rebalance', 'cleanup'];

/** A JSON body (POST /admin/jobs) → a request; JobRefusedError 400 when it is not one. */
export function parseJobRequest(body: unknown): JobRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new JobRefusedError('the body must be a JSON object (a job request)');
  const b = body as Record<string, unknown>;
  if (typeof b.kind !== 'string' || !(KINDS as readonly string[]).includes(b.kind)) {
    throw new JobRefusedError(`kind must be one of ${KINDS.join(', ')}`);
  }
  const kind = b.kind as JobKind;
  const request: { -readonly [K in keyof JobRequest]: JobRequest[K] } = { kind };
  if (b.backend !== undefined) {
    if (typeof b.backend !== 'string' || b.backend === '') throw new JobRefusedError('backend must be a backend name');
    request.backend = b.backend;
  }
  if (b.measurements !== undefined) {
    if (!Array.isArray(b.measurements) || b.measurements.some((m) => typeof m !== 'string' || m === '')) {
      throw new JobRefusedError('measurements must be a list of measurement names');
    }
    request.measurements = b.measurements as string[];
  }
  if (b.confirm !== undefined) {
    if (typeof b.confirm !== 'boolean') throw new JobRefusedError('confirm must be true or false');
    request.confirm = b.confirm;
  }
  if (b.pointsPerSecond !== undefined) {
    if (typeof b.pointsPerSecond !== 'number' || !Number.isFinite(b.pointsPerSecond) || b.pointsPerSecond < 0) {
      throw new JobRefusedError('pointsPerSecond must be a number of points per second (0: unthrottled)');
    }
    request.pointsPerSecond = b.pointsPerSecond;
  }
  if (b.keymapsBefore !== undefined) {
    const km = b.keymapsBefore;
    if (
      !km ||
      typeof km !== 'object' ||
      Array.isArray(km) ||
      Object.values(km).some((v) => !Array.isArray(v) || v.some((n) => typeof n !== 'string'))
    ) {
      throw new JobRefusedError('keymapsBefore must map measurements to lists of backend names');
    }
    request.keymapsBefore = km as Record<string, string[]>;
  }
  return request;
}

/**
 * Checks a request against the config in force and completes it: recover and cleanup need a known
 * backend, cleanup an explicit confirmation, and a rebalance records the keymaps in force (unless the
 * caller already did: the CLI records them before it writes the new ones).
 */
export function prepareJobRequest(request: JobRequest, config: ClusterConfig): JobRequest {
  if (request.kind === 'recover' || request.kind === 'cleanup') {
    if (!request.backend) throw new JobRefusedError(`${request.kind} needs a backend`);
    if (!config.backends[request.backend]) throw new JobRefusedError(`no backend ${request.backend} in the config`);
  }
  if (request.kind === 'cleanup' && request.confirm !== true) {
    throw new JobRefusedError(`cleanup drops data from ${request.backend}: confirm it (--yes, or "confirm": true)`);
  }
  if (request.kind === 'rebalance' && !request.keymapsBefore) return { ...request, ...routingBeforeOf(config) };
  return request;
}

/** Plans `request` (dry run) or stores it as a pending job; the plan or the stored record. */
export async function submitJob(
  store: JobStore,
  engine: JobEngine,
  config: ClusterConfig,
  request: JobRequest,
  options: { dryRun?: boolean; newRecord: (request: JobRequest) => JobRecord },
): Promise<{ plan: JobPlan } | { job: JobRecord }> {
  const prepared = prepareJobRequest(request, config);
  if (options.dryRun) return { plan: await engine.plan(prepared, config) };
  const job = await store.create(options.newRecord(prepared), Object.keys(config.backends));
  return { job };
}

/** A job as /meta, `jobs` and the CLI's lines show it. */
export interface JobSummary {
  id: string;
  kind: JobKind;
  backend?: string;
  measurements?: readonly string[];
  state: JobRecord['state'];
  /** `i/n`: steps finished of the plan's (absent before it is planned). */
  step?: string;
  windowsDone: number;
  windowsTotal: number;
  pointsCopied: number;
  estimatedPoints?: number;
  rate: number;
  etaSeconds: number | null;
  runner?: string;
  createdAt: number;
  finishedAt?: number;
  error?: string;
}

export function jobSummary(job: JobRecord): JobSummary {
  const p = job.progress;
  const steps = job.plan?.steps.length;
  const finished = job.state === 'done';
  return {
    id: job.id,
    kind: job.request.kind,
    ...(job.request.backend ? { backend: job.request.backend } : {}),
    ...(job.request.measurements?.length ? { measurements: job.request.measurements } : {}),
    state: job.state,
    ...(steps !== undefined ? { step: `${finished ? steps : Math.min(p?.cursor.step ?? 0, steps)}/${steps}` } : {}),
    windowsDone: p?.windowsDone ?? 0,
    windowsTotal: p?.windowsTotal ?? 0,
    pointsCopied: p?.pointsCopied ?? 0,
    ...(job.plan ? { estimatedPoints: job.plan.estimatedPoints } : {}),
    rate: job.state === 'running' ? (p?.rate ?? 0) : 0,
    etaSeconds: job.state === 'running' ? (p?.etaSeconds ?? null) : job.state === 'done' ? 0 : null,
    ...(job.runner ? { runner: job.runner } : {}),
    createdAt: job.createdAt,
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
    ...(job.error ? { error: job.error } : {}),
  };
}

/** For /meta: every unfinished job and the last `history` finished ones, oldest first. */
export function jobsForMeta(jobs: readonly JobRecord[], history = 5): JobSummary[] {
  const finished = jobs.filter((j) => j.state === 'done' || j.state === 'failed' || j.state === 'cancelled');
  const keep = new Set(finished.slice(-history));
  return jobs.filter((j) => !finished.includes(j) || keep.has(j)).map(jobSummary);
}

/** Unfinished recover jobs' backends: read-behind everywhere until their copy is done. */
export function recoveringBackends(jobs: readonly JobRecord[]): string[] {
  return jobs
    .filter((j) => j.request.kind === 'recover' && (j.state === 'pending' || j.state === 'running') && j.request.backend)
    .map((j) => j.request.backend!);
}

/** The routing fields a rebalance records from the config in force when it is created. */
export function routingBeforeOf(config: ClusterConfig): Pick<JobRequest, 'keymapsBefore' | 'hashKeymapsBefore' | 'groupsBefore'> {
  return {
    keymapsBefore: config.keymaps,
    ...(config.hashKeymaps ? { hashKeymapsBefore: config.hashKeymaps } : {}),
    ...(config.groups ? { groupsBefore: config.groups } : {}),
  };
}

/** The routing before the oldest unfinished rebalance (undefined: no rebalance under way). */
export function rebalanceRoutingBefore(jobs: readonly JobRecord[]): RoutingConfig | undefined {
  const request = jobs.find((j) => j.request.kind === 'rebalance' && (j.state === 'pending' || j.state === 'running'))?.request;
  if (!request?.keymapsBefore) return undefined;
  return {
    keymaps: request.keymapsBefore,
    ...(request.hashKeymapsBefore ? { hashKeymaps: request.hashKeymapsBefore } : {}),
    ...(request.groupsBefore ? { groups: request.groupsBefore } : {}),
  };
}
