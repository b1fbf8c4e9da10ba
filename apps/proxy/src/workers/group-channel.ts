import cluster from 'node:cluster';
import { WORKER_SLOT_ENV } from './worker-layout';

/*
 * How a worker learns what the other workers of its proxy know: it asks the supervisor, which asks
 * every live worker the same question and hands back their answers. The supervisor only relays (it
 * runs no Nest app and knows nothing of backends); the asking worker merges the answers. In a single
 * process (`--workers 1`) the only answer is its own.
 */

/** One worker's answer to a group question. */
export interface WorkerAnswer<T> {
  slot: number;
  pid: number;
  value: T;
}

/** A worker's question to the supervisor (ask), and the supervisor's answer (answers). */
export interface AskMessage {
  kind: 'influxdb-proxy:ask';
  id: number;
  what: string;
}
export interface AnswersMessage {
  kind: 'influxdb-proxy:answers';
  id: number;
  answers: WorkerAnswer<unknown>[];
}
/** The supervisor's question to one worker (collect), and its reply (collected). */
export interface CollectMessage {
  kind: 'influxdb-proxy:collect';
  id: number;
  what: string;
}
export interface CollectedMessage {
  kind: 'influxdb-proxy:collected';
  id: number;
  value?: unknown;
  error?: string;
}
/** A worker tells the supervisor it listens (its start-up is over). */
export interface ReadyMessage {
  kind: 'influxdb-proxy:ready';
}

export type WorkerMessage = AskMessage | CollectedMessage | ReadyMessage;
export type SupervisorMessage = AnswersMessage | CollectMessage;

/** How long the supervisor waits for the workers' answers; a worker that does not answer in time is left out. */
export const COLLECT_TIMEOUT_MS = 3_000;
/** How long a worker waits for the supervisor's relay (the collection's own bound, and some). */
const ASK_TIMEOUT_MS = COLLECT_TIMEOUT_MS + 2_000;

class GroupChannel {
  private readonly answerers = new Map<string, () => unknown>();
  private readonly pending = new Map<number, (answers: WorkerAnswer<unknown>[] | undefined) => void>();
  private nextId = 1;
  private listening = false;
  readonly slot = cluster.isWorker ? Number(process.env[WORKER_SLOT_ENV] ?? 0) : 0;

  /** True in a worker of a supervised group. */
  get inGroup(): boolean {
    return cluster.isWorker && typeof process.send === 'function';
  }

  /** What this process answers when the group is asked `what` (the last registration wins). */
  answer(what: string, answerer: () => unknown): void {
    this.answerers.set(what, answerer);
    this.listen();
  }

  /**
   * Every live worker's answer to `what` (this one's included), in slot order. Outside a group, or
   * when the supervisor does not answer in time, only this process's own.
   */
  async gather<T>(what: string): Promise<WorkerAnswer<T>[]> {
    const own = async (): Promise<WorkerAnswer<T>[]> => [{ slot: this.slot, pid: process.pid, value: (await this.local(what)) as T }];
    if (!this.inGroup) return own();
    this.listen();
    const id = this.nextId++;
    const answers = await new Promise<WorkerAnswer<unknown>[] | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, ASK_TIMEOUT_MS);
      timer.unref();
      this.pending.set(id, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
      const ask: AskMessage = { kind: 'influxdb-proxy:ask', id, what };
      process.send!(ask);
    });
    return answers ? (answers as WorkerAnswer<T>[]) : own();
  }

  private async local(what: string): Promise<unknown> {
    const answerer = this.answerers.get(what);
    if (!answerer) throw new Error(`nothing answers ${what}`);
    return answerer();
  }

  private listen(): void {
    if (this.listening || !this.inGroup) return;
    this.listening = true;
    process.on('message', (msg: SupervisorMessage) => {
      if (msg?.kind === 'influxdb-proxy:answers') {
        this.pending.get(msg.id)?.(msg.answers);
        this.pending.delete(msg.id);
      } else if (msg?.kind === 'influxdb-proxy:collect') {
        this.local(msg.what).then(
          (value) => reply({ kind: 'influxdb-proxy:collected', id: msg.id, value }),
          (err: Error) => reply({ kind: 'influxdb-proxy:collected', id: msg.id, error: err?.message ?? String(err) }),
        );
      }
    });
  }
}

function reply(msg: CollectedMessage): void {
  if (process.connected) process.send!(msg);
}

/** This process's channel to its group (one per process: IPC is per process). */
export const groupChannel = new GroupChannel();
