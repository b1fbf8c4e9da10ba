import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** influxd's router answer for a known path with the wrong method. */
export function writeMethodNotAllowed(res: ServerResponse, allow: string, headers: OutgoingHttpHeaders): void {
  const body = 'Method Not Allowed\n';
  res.writeHead(405, {
    ...headers,
    Allow: allow,
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
