import type { Precision } from '@app/line-protocol';

/**
 * How InfluxDB 1.8's compatibility API (services/httpd/handler.go: serveWriteV2, bucket2dbrp) reads
 * the parameters of a v2 client: `bucket` is `db/rp` or `db`, `precision` uses the v2 names.
 */

/** A bucket read as a database and a retention policy, or influxd 1.8's refusal (answered 404). */
export type BucketTarget = { db: string; rp: string } | { error: string };

/**
 * `db/rp` → db and rp (split at the first `/`, so an rp may hold more slashes; an empty rp means the
 * default one); `db` alone → db and the default rp; an empty bucket or an empty db are refused in
 * influxd 1.8's words.
 */
export function bucketTarget(bucket: string): BucketTarget {
  const slash = bucket.indexOf('/');
  if (slash < 0) {
    if (bucket === '') return { error: `bucket name ${goQuote(bucket)} is missing a slash; not in "database/retention-policy" format` };
    return { db: bucket, rp: '' };
  }
  const db = bucket.slice(0, slash);
  if (db === '') return { error: `bucket name ${goQuote(bucket)} is in db/rp form but has an empty database` };
  return { db, rp: bucket.slice(slash + 1) };
}

/** The v1 write precision for a v2 `precision` (ns, us, ms, s; absent = ns); undefined when influxd 1.8 refuses it. */
export function v2WritePrecision(precision: string): Precision | '' | undefined {
  switch (precision) {
    case '':
      return '';
    case 'ns':
      return 'n';
    case 'us':
      return 'u';
    case 'ms':
    case 's':
      return precision;
    default:
      return undefined;
  }
}

/** influxd 1.8's text for a precision a v2 client may not use (answered 400). */
export function invalidV2Precision(precision: string): string {
  return `invalid precision ${goQuote(precision)} (use ns, us, ms or s)`;
}

/** Go's %q for the strings a URL parameter can hold (JSON's escaping matches it for printable text). */
function goQuote(s: string): string {
  return JSON.stringify(s);
}
