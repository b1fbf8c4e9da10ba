import type { BackendStatus } from '@app/backend';

/** InfluxDB's health-check status values (its clients know no others). */
export type HealthStatus = 'pass' | 'fail';

/** One backend as /health shows it: InfluxDB's check shape (name, status, message) plus detail. */
export interface BackendCheck {
  name: string;
  status: HealthStatus;
  message: string;
  healthy: boolean;
  writeOnly: boolean;
  /** When the backend last went up or down (ISO 8601). */
  since: string;
  spool: {
    records: number;
    bytes: number;
    maxBytes: number;
    oldestAgeMs: number | null;
    replaying: boolean;
    full: boolean;
    diskError?: { since: string; problem: string; during: string };
  };
  /** Set while the backend refuses the proxy's writes for its state: they wait in its spool. */
  refusing?: { since: string; status: number; error: string };
  /** Records it refused for good on replay, kept for an operator (GET /admin/rejected). */
  rejectedRecords: number;
}

/** InfluxDB 1.8's /health document; `checks` holds one entry per backend. */
export interface HealthReport {
  name: 'influxdb';
  message: string;
  status: HealthStatus;
  checks: BackendCheck[];
  version: string;
}

export interface BackendHealthInput {
  name: string;
  writeOnly: boolean;
  status: BackendStatus;
}

export const READY = 'ready for queries and writes';

/**
 * Whether the proxy can serve, from what it sees of its backends. A backend takes writes while its
 * spool has room (whether it is up or not: when down, its writes are spooled), and answers queries
 * while it is up and not write-only. The proxy passes when some backend does either; it fails (503)
 * when none does: no backend reachable and no spool space.
 */
export function healthReport(backends: readonly BackendHealthInput[], version: string): HealthReport {
  const checks = backends.map(backendCheck);
  const takesWrites = backends.filter((b) => !b.status.spool.full).length;
  const answersQueries = backends.filter((b) => b.status.healthy && !b.writeOnly).length;
  const healthy = backends.filter((b) => b.status.healthy).length;
  let status: HealthStatus = 'pass';
  let message: string;
  if (backends.length === 0) {
    status = 'fail';
    message = 'no backend configured';
  } else if (takesWrites === 0 && answersQueries === 0) {
    status = 'fail';
    message = 'no backend reachable and no spool space';
  } else if (answersQueries === 0) {
    message = 'ready for writes (spooled); no backend reachable for queries';
  } else if (takesWrites === 0) {
    message = 'ready for queries; writes are refused (every spool is full)';
  } else if (checks.every((c) => c.status === 'pass')) {
    message = READY;
  } else {
    message = `${READY} (degraded: ${healthy} of ${backends.length} backends up, ${takesWrites} taking writes)`;
  }
  return { name: 'influxdb', message, status, checks, version };
}

function backendCheck(b: BackendHealthInput): BackendCheck {
  const s = b.status;
  const spool = s.spool;
  const used = `${spool.bytes} of ${spool.maxBytes} spool bytes used`;
  let message: string;
  if (s.healthy && !spool.full) {
    message = spool.records > 0 ? `up; replaying its spool (${spool.records} batches, ${used})` : 'up';
  } else if (s.healthy) {
    message = `up, but its spool is full while it replays (${used}): its writes are answered 503`;
  } else if (!spool.full) {
    message = `down; its writes are spooled (${used})`;
  } else {
    message = `down and its spool is full (${used}): its writes are answered 503`;
  }
  if (spool.diskError)
    message += `; its spool disk fails since ${new Date(spool.diskError.since).toISOString()} (${spool.diskError.problem})`;
  if (s.refusing)
    message += `; refuses writes since ${new Date(s.refusing.since).toISOString()} (${s.refusing.status}: ${s.refusing.error}), they wait in its spool`;
  const rejectedRecords = s.rejected?.records ?? 0;
  if (rejectedRecords > 0) message += `; ${rejectedRecords} records it refused on replay are set aside`;
  return {
    name: `backend:${b.name}`,
    status: s.healthy && !spool.full && !s.refusing && !spool.diskError ? 'pass' : 'fail',
    message,
    healthy: s.healthy,
    writeOnly: b.writeOnly,
    since: new Date(s.since).toISOString(),
    spool: {
      records: spool.records,
      bytes: spool.bytes,
      maxBytes: spool.maxBytes,
      oldestAgeMs: spool.oldestAgeMs,
      replaying: spool.replaying,
      full: spool.full,
      ...(spool.diskError ? { diskError: { ...spool.diskError, since: new Date(spool.diskError.since).toISOString() } } : {}),
    },
    ...(s.refusing ? { refusing: { ...s.refusing, since: new Date(s.refusing.since).toISOString() } } : {}),
    rejectedRecords,
  };
}
