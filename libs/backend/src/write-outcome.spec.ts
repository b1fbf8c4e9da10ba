import { classifyWriteAnswer } from './write-outcome';

/**
 * influxd 1.6/1.8's answers to /write (services/httpd/handler.go serveWrite, coordinator/points_writer.go),
 * as recorded from a real influxd 1.6.7, and what each means for the write contract.
 */
const ANSWERS: [status: number, error: string, kind: string][] = [
  [204, '', 'ok'],
  [200, '', 'ok'],
  // the request's lines: the client's answer, never spooled
  [400, "unable to parse 'm v=\u0001': invalid boolean", 'rejected'],
  [400, "partial write: unable to parse 'secret,token=x v=abc': invalid boolean dropped=1", 'rejected'],
  [
    400,
    'partial write: field type conflict: input field "v" on measurement "m" is type float, already exists as type integer dropped=1',
    'rejected',
  ],
  [400, 'field type conflict: input field "v" on measurement "m" is type float, already exists as type integer', 'rejected'],
  [400, 'partial write: points beyond retention policy dropped=3', 'rejected'],
  [400, 'partial write: max-values-per-tag limit exceeded (100000/100000): measurement="m" tag="t" value="v" dropped=1', 'rejected'],
  [400, 'invalid precision "x"', 'rejected'],
  [413, 'Request Entity Too Large', 'rejected'],
  [500, 'retention policy not found: nosuchrp', 'rejected'],
  // `m\xdd v=1`: the first write of a measurement name that is not UTF-8 (influxd stores it; the next write is a 204)
  [500, 'proto: field "tsdb.MeasurementFields.Name" contains invalid UTF-8', 'rejected'],
  // the backend's state: kept in its spool until it takes them
  [404, 'database not found: "mydb"', 'refused'],
  [404, '404 page not found', 'refused'],
  [500, 'database not found: mydb', 'refused'],
  [401, 'authorization failed', 'refused'],
  [403, '"writer" user is not authorized to write to database "mydb"', 'refused'],
  [403, 'user is required to write to database "mydb"', 'refused'],
  // the backend failing: spooled, marked down
  [500, 'timeout', 'unavailable'],
  [500, 'write failed', 'unavailable'],
  [500, 'engine: cache-max-memory-size exceeded: (1073741824/1073741824)', 'unavailable'],
  [500, 'engine is closed', 'unavailable'],
  [502, 'Bad Gateway', 'unavailable'],
  [503, 'Service Unavailable', 'unavailable'],
  [408, 'Request Timeout', 'unavailable'],
  [429, 'Too Many Requests', 'unavailable'],
];

describe('classifyWriteAnswer', () => {
  it.each(ANSWERS)('reads %i %j as %s', (status, error, kind) => {
    const outcome = classifyWriteAnswer(status, error);
    expect(outcome.kind).toBe(kind);
    if (outcome.kind === 'rejected' || outcome.kind === 'refused') {
      expect(outcome.status).toBe(status);
      expect(outcome.error).toBe(error);
    }
    expect(outcome.kind === 'rejected' && outcome.once === true).toBe(error.includes('invalid UTF-8'));
  });
});
