import { resolve } from 'node:path';
import { checkTimings, INSTALL_DIR, parseListen, parseSentinelArgs, staleAfterMs } from './sentinel-options';

describe('sentinel command line', () => {
  it('takes the same store flags as the proxy, single- or double-dash', () => {
    expect(parseSentinelArgs(['--name', 's1']).store).toEqual({ kind: 'file', path: resolve(INSTALL_DIR, 'config.json') });
    expect(parseSentinelArgs(['-redis', 'localhost:6380', '-redis-pwd', 'pw', '-redis-db', '2']).store).toMatchObject({
      kind: 'redis',
      host: 'localhost',
      port: 6380,
      password: 'pw',
      db: 2,
    });
    expect(parseSentinelArgs(['--etcd', 'http://e1:2379,e2:2379', '--etcd-prefix', '/ip']).store).toMatchObject({
      kind: 'etcd',
      hosts: ['http://e1:2379', 'http://e2:2379'],
      prefix: '/ip/',
    });
  });

  it('takes the proxy’s logging flags: a log file, rotated by size or interval', () => {
    expect(parseSentinelArgs(['--name', 's1'])).toMatchObject({ logLevel: 'info', logFilePath: undefined, logRotation: undefined });
    const o = parseSentinelArgs([
      '-log-file-path',
      'logs/s1.log',
      '--log-rotate-size',
      '10M',
      '--log-rotate-interval',
      'daily',
      '--log-level',
      'warn',
    ]);
    expect(o.logFilePath).toBe(resolve('logs/s1.log'));
    expect(o.logRotation).toEqual({ size: '10M', interval: '1d', keep: 7, compress: false });
    expect(o.logLevel).toBe('warn');
  });

  it('has defaults for every timing, in milliseconds', () => {
    const o = parseSentinelArgs(['--name', 's9']);
    expect(o).toMatchObject({
      name: 's9',
      listen: { host: '127.0.0.1', port: 8090 },
      intervalMs: 1_000,
      timeoutMs: 2_000,
      downAfter: 3,
      upAfter: 2,
      leaderTtlMs: 5_000,
      replaySlots: 1,
      slotTtlMs: 10_000,
      membershipTtl: 10,
      writeFailureReports: 1,
    });
    expect(staleAfterMs(o)).toBe(7_000);
    expect(parseSentinelArgs(['--check-interval', '0.25', '--leader-ttl', '2', '--slot-ttl', '3'])).toMatchObject({
      intervalMs: 250,
      leaderTtlMs: 2_000,
      slotTtlMs: 3_000,
    });
  });

  it('takes the hysteresis as --down-after/--up-after, and still as the old --fall/--rise', () => {
    expect(parseSentinelArgs(['--down-after', '5', '--up-after', '4'])).toMatchObject({ downAfter: 5, upAfter: 4 });
    expect(parseSentinelArgs(['-down-after', '6', '-up-after', '1'])).toMatchObject({ downAfter: 6, upAfter: 1 });
    expect(parseSentinelArgs(['--fall', '7', '--rise', '3'])).toMatchObject({ downAfter: 7, upAfter: 3 });
    expect(parseSentinelArgs(['--fall', '7'])).toMatchObject({ downAfter: 7, upAfter: 2 });
  });

  it('refuses the old and the new name of one setting together, and names the flag given for a bad count', () => {
    const exit = jest.spyOn(process, 'exit').mockImplementation(((code: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    const stderr = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(() => parseSentinelArgs(['--fall', '2', '--down-after', '3'])).toThrow('exit 2');
      expect(stderr).toHaveBeenLastCalledWith('influxdb-sentinel: --fall is the old name of --down-after: give only --down-after');
      expect(() => parseSentinelArgs(['--rise', '0'])).toThrow('exit 2');
      expect(stderr).toHaveBeenLastCalledWith('influxdb-sentinel: --rise must be a whole number ≥ 1');
      expect(() => parseSentinelArgs(['--up-after', '1.5'])).toThrow('exit 2');
      expect(stderr).toHaveBeenLastCalledWith('influxdb-sentinel: --up-after must be a whole number ≥ 1');
    } finally {
      exit.mockRestore();
      stderr.mockRestore();
    }
  });

  it('refuses timings that cannot work together', () => {
    const store = { kind: 'file' as const, path: '/c' };
    expect(() => checkTimings({ store, intervalMs: 1_000, leaderTtlMs: 1_500, slotTtlMs: 10_000 })).toThrow(
      /--leader-ttl must be at least twice/,
    );
    expect(() => checkTimings({ store, intervalMs: 1_000, leaderTtlMs: 5_000, slotTtlMs: 1_000 })).toThrow(
      /--slot-ttl must be at least twice/,
    );
    expect(() =>
      checkTimings({
        store: { kind: 'etcd', hosts: [], prefix: '/', refreshSeconds: 1, connectTimeoutMs: 1 },
        intervalMs: 100,
        leaderTtlMs: 1_500,
        slotTtlMs: 1_000,
      }),
    ).toThrow(/whole seconds/);
  });

  it('reads listen addresses', () => {
    expect(parseListen('127.0.0.1:8090')).toEqual({ host: '127.0.0.1', port: 8090 });
    expect(parseListen(':9000')).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(parseListen('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(() => parseListen('nope')).toThrow(/--listen: "nope" is not host:port/);
  });
});
