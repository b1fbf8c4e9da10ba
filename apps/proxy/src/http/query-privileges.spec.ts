import { parseQuery } from '@app/influxql';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { refuseUnprivileged, rememberUser } from './query-privileges';

class FakeRes extends EventEmitter {
  status?: number;
  headers?: OutgoingHttpHeaders;
  body?: string;
  headersSent = false;
  writeHead(status: number, headers: OutgoingHttpHeaders) {
    this.status = status;
    this.headers = headers;
  }
  end(body?: string) {
    this.body = body;
  }
}

function check(q: string, user?: { username: string; admin: boolean }) {
  const req = {} as IncomingMessage;
  if (user) rememberUser(req, user);
  const res = new FakeRes();
  const refused = refuseUnprivileged(req, res as unknown as ServerResponse, parseQuery(q), {});
  return { refused, status: res.status, error: res.body ? JSON.parse(res.body).error : undefined };
}

const bob = { username: 'bob', admin: false };
const alice = { username: 'alice', admin: true };

describe('refuseUnprivileged', () => {
  it('lets anything through when the request did not authenticate (auth off) or the user is an admin', () => {
    expect(check('CREATE DATABASE x').refused).toBe(false);
    expect(check('CREATE DATABASE x; SHOW USERS', alice).refused).toBe(false);
  });

  it('lets a non-admin read and write data', () => {
    for (const q of ['SELECT * FROM cpu', 'SHOW MEASUREMENTS', 'SHOW DATABASES', 'SHOW TAG KEYS FROM cpu', 'DROP SERIES FROM cpu']) {
      expect([q, check(q, bob).refused]).toEqual([q, false]);
    }
  });

  it("refuses a non-admin's admin-only statement with influxd's 403, even after other statements", () => {
    expect(check('SELECT * FROM cpu; CREATE DATABASE "x"', bob)).toEqual({
      refused: true,
      status: 403,
      error: `error authorizing query: bob not authorized to execute statement 'CREATE DATABASE "x"', requires admin privilege`,
    });
    for (const q of [
      'SHOW USERS',
      'SHOW STATS',
      'SHOW SHARDS',
      'DROP MEASUREMENT cpu',
      'CREATE RETENTION POLICY r ON d DURATION 1d REPLICATION 1',
      'KILL QUERY 1',
    ]) {
      expect([q, check(q, bob).status]).toEqual([q, 403]);
    }
  });
});
