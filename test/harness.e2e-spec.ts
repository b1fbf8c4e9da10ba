/**
 * Proves the e2e harness itself: each real server starts on loopback, answers, and stop()
 * really removes the process and its temp dir.
 */
import * as fs from 'node:fs';
import { startEtcd } from './support/etcd';
import { request } from './support/http';
import { startInfluxd } from './support/influxd';
import { freePorts } from './support/ports';
import { pidAlive, stopAll } from './support/processes';
import { startRedis } from './support/redis';

afterAll(stopAll);

function expectGone(pid: number) {
  expect(pid).toBeGreaterThan(0);
  expect(() => process.kill(pid, 0)).toThrow();
  expect(pidAlive(pid)).toBe(false);
}

describe('test harness', () => {
  it('hands out distinct free loopback ports', async () => {
    const ports = await freePorts(5);
    expect(new Set(ports).size).toBe(5);
    for (const port of ports) expect(port).toBeGreaterThan(0);
  });

  it('starts influxd, writes and reads a point, restarts it with its data, and stop removes process and dir', async () => {
    const influxd = await startInfluxd();
    const firstPid = influxd.pid;
    expect(firstPid).toBeGreaterThan(0);
    expect(influxd.version).toMatch(/^1\./);
    expect(fs.existsSync(influxd.dir)).toBe(true);

    await influxd.createDatabase('harness');
    const write = await influxd.write('harness', 'h,host=x value=1 1700000000123456789');
    expect(write.status).toBe(204);
    expect(await influxd.rows('SELECT * FROM h', 'harness')).toEqual([{ time: 1700000000123456789n, host: 'x', value: 1 }]);

    await influxd.kill('SIGKILL');
    expectGone(firstPid);
    const down = await request(`${influxd.url}/ping`, { timeoutMs: 1_000 }).catch((err: Error) => err);
    expect(down).toBeInstanceOf(Error);

    await influxd.restart();
    expect(influxd.pid).not.toBe(firstPid);
    expect(await influxd.rows('SELECT * FROM h', 'harness')).toEqual([{ time: 1700000000123456789n, host: 'x', value: 1 }]);

    const secondPid = influxd.pid;
    await influxd.stop();
    expectGone(secondPid);
    expect(fs.existsSync(influxd.dir)).toBe(false);
  });

  it('starts redis-server answering commands, and stop removes process and dir', async () => {
    const redis = await startRedis();
    const pid = redis.pid;
    expect(await redis.command('PING')).toBe('PONG');
    expect(await redis.command('HSET', 'b:', 'b1', '{"url":"http://127.0.0.1:1"}')).toBe(1);
    expect(await redis.command('HGETALL', 'b:')).toEqual(['b1', '{"url":"http://127.0.0.1:1"}']);
    await expect(redis.command('NOSUCHCOMMAND')).rejects.toThrow(/unknown command/i);
    await redis.stop();
    expectGone(pid);
    expect(fs.existsSync(redis.dir)).toBe(false);
  });

  it('starts a single-member etcd that stores keys, and stop removes process and dir', async () => {
    const etcd = await startEtcd();
    const pid = etcd.pid;
    await etcd.put('/influx-proxy/backends/b1', '{"url":"http://127.0.0.1:1"}');
    await etcd.put('/influx-proxy/keymaps/cpu', '["b1"]');
    expect(await etcd.get('/influx-proxy/backends/b1')).toBe('{"url":"http://127.0.0.1:1"}');
    expect(await etcd.getPrefix('/influx-proxy/')).toEqual({
      '/influx-proxy/backends/b1': '{"url":"http://127.0.0.1:1"}',
      '/influx-proxy/keymaps/cpu': '["b1"]',
    });
    await etcd.delete('/influx-proxy/keymaps/cpu');
    expect(await etcd.get('/influx-proxy/keymaps/cpu')).toBeUndefined();
    await etcd.stop();
    expectGone(pid);
    expect(fs.existsSync(etcd.dir)).toBe(false);
  });
});
