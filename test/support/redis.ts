/**
 * A throwaway redis-server on a loopback port with no persistence, plus a minimal RESP client
 * (one connection per command) so tests can read and write the config the proxy shares.
 */
import * as net from 'node:net';
import { freePort } from './ports';
import { ServiceLifecycle, ServiceRunner, makeTempDir, spawnManaged, stopAll, untilServing } from './processes';

export { stopAll };

export type RespValue = string | number | null | RespValue[] | RespError;

export class RespError extends Error {}

export interface Redis extends ServiceLifecycle {
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  /** requirepass, when started with one (command() authenticates with it). */
  readonly password?: string;
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** Sends one command, returns the parsed reply (an error reply is thrown as RespError). */
  command(...args: (string | number)[]): Promise<RespValue>;
  stop(): Promise<unknown>;
}

export interface StartRedisOptions {
  /** Start with `--requirepass`; command() sends AUTH first. */
  password?: string;
}

export async function startRedis(options: StartRedisOptions = {}): Promise<Redis> {
  const password = options.password;
  const dir = await makeTempDir('redis');
  const port = await freePort();
  const host = '127.0.0.1';
  const runner = new ServiceRunner({
    what: `redis-server on ${host}:${port}`,
    dir,
    stopTimeoutMs: 10_000,
    spawn: () =>
      spawnManaged(`redis:${port}`, 'redis-server', [
        '--port',
        String(port),
        '--bind',
        host,
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        ...(password ? ['--requirepass', password] : []),
      ]),
    ready: (proc) =>
      untilServing(
        proc,
        `redis-server on ${host}:${port} to answer PING`,
        async () => (await respCommand(host, port, ['PING'], 1_000, password)) === 'PONG',
      ),
  });
  const handle: Redis = runner.handle({
    url: `redis://${host}:${port}`,
    password,
    host,
    port,
    dir,
    command: (...args: (string | number)[]) => respCommand(host, port, args.map(String), undefined, password),
  });
  await runner.start();
  return handle;
}

/** One RESP2 command over a fresh TCP connection (after AUTH when a password is given). */
export function respCommand(host: string, port: number, args: string[], timeoutMs = 5_000, password?: string): Promise<RespValue> {
  const commands = password ? [['AUTH', password], args] : [args];
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis ${host}:${port} ${args[0]}: no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (fn: () => void) => {
      clearTimeout(timer);
      socket.destroy();
      fn();
    };
    socket.on('error', (err) => done(() => reject(err)));
    socket.on('connect', () => {
      const parts: string[] = [];
      for (const command of commands) {
        parts.push(`*${command.length}\r\n`);
        for (const arg of command) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
      }
      socket.write(parts.join(''));
    });
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const values: RespValue[] = [];
      let offset = 0;
      try {
        while (values.length < commands.length) {
          const parsed = parseResp(buffer, offset);
          if (!parsed) return;
          values.push(parsed[0]);
          offset = parsed[1];
        }
      } catch (err) {
        done(() => reject(err));
        return;
      }
      const failed = values.find((v) => v instanceof RespError);
      const value = values[values.length - 1];
      done(() => (failed ? reject(failed) : resolve(value)));
    });
  });
}

/** Parses one RESP2 value at `offset`; undefined if incomplete. Returns [value, nextOffset]. */
function parseResp(buf: Buffer, offset: number): [RespValue, number] | undefined {
  const eol = buf.indexOf('\r\n', offset);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[offset]);
  const line = buf.toString('utf8', offset + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+':
      return [line, next];
    case '-':
      return [new RespError(line), next];
    case ':':
      return [Number(line), next];
    case '$': {
      const len = Number(line);
      if (len < 0) return [null, next];
      if (buf.length < next + len + 2) return undefined;
      return [buf.toString('utf8', next, next + len), next + len + 2];
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: RespValue[] = [];
      let pos = next;
      for (let i = 0; i < count; i++) {
        const item = parseResp(buf, pos);
        if (!item) return undefined;
        items.push(item[0]);
        pos = item[1];
      }
      return [items, pos];
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}
