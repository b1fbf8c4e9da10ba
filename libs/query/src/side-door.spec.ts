import { parseQuery } from '@app/influxql';
import { sideDoorOf } from './side-door';

describe('sideDoorOf', () => {
  const doorOf = (q: string) => sideDoorOf(parseQuery(q)[0])?.needs;

  it('sees CREATE RETENTION POLICY … DEFAULT as ALTER RETENTION POLICY, in any case and place of DEFAULT', () => {
    expect(doorOf('CREATE RETENTION POLICY r ON db DURATION 1h REPLICATION 1 DEFAULT')).toBe('alter-retention-policy');
    expect(doorOf('create retention policy r on db duration 1h replication 1 shard duration 1h\n/* x */ default past limit 1d')).toBe(
      'alter-retention-policy',
    );
    expect(doorOf('CREATE RETENTION POLICY "default" ON "default" DURATION 1h REPLICATION 1')).toBeUndefined();
    expect(doorOf('CREATE RETENTION POLICY r ON db DURATION 1h REPLICATION 1')).toBeUndefined();
  });

  it('sees CREATE USER … WITH ALL PRIVILEGES as GRANT', () => {
    expect(doorOf("CREATE USER u WITH PASSWORD 'x' WITH ALL PRIVILEGES")).toBe('grant');
    expect(doorOf("CREATE USER u WITH PASSWORD 'x'")).toBeUndefined();
  });

  it('opens no door for CREATE DATABASE, with or without a retention policy spec', () => {
    expect(doorOf('CREATE DATABASE d WITH DURATION 1h REPLICATION 1 SHARD DURATION 1h NAME short')).toBeUndefined();
    expect(doorOf('CREATE DATABASE d')).toBeUndefined();
  });
});
