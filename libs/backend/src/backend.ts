import type { BackendConfig } from '@app/config';
import { Logger } from '@nestjs/common';
import { BackendClient } from './backend-client';
import type { BufferPool } from './buffer-pool';
import { WriteBatcher } from './write-batcher';
import type { WriteOutcome } from './write-outcome';

/** Consecutive failed checks that mark a backend down, and successes that bring it back. */
const FALL = 2;
const RISE = 1;

export interface BackendStatus {
  healthy: boolean;
  since: number;
  lastError?: string;
  version?: string;
}

/** One configured InfluxDB: its HTTP client, its write batcher and its health as this proxy sees it. */
export class Backend {
  private readonly logger = new Logger(Backend.name);
  readonly client: BackendClient;
  readonly batcher: WriteBatcher;
  private healthy = true;
  private since = Date.now();
  private failures = 0;
  private successes = 0;
  private lastError?: string;
  private timer?: NodeJS.Timeout;
  private checking = false;

  constructor(
    readonly name: string,
    readonly config: BackendConfig,
    pool?: BufferPool,
  ) {
    this.client = new BackendClient(name, config);
    this.batcher = new WriteBatcher((rp, precision, chunks, bytes) => this.sendBatch(rp, precision, chunks, bytes), {
      maxRowLimit: config.maxRowLimit,
      concurrency: config.concurrency,
      release: pool ? (chunk) => pool.release(chunk) : undefined,
    });
  }

  /** Starts periodic health checks; the first runs at once. */
  start(): void {
    void this.check();
    this.timer = setInterval(() => void this.check(), this.config.checkInterval);
    this.timer.unref();
  }

  get isHealthy(): boolean {
    return this.healthy;
  }

  get version(): string | undefined {
    return this.client.version;
  }

  status(): BackendStatus {
    return { healthy: this.healthy, since: this.since, lastError: this.lastError, version: this.client.version };
  }

  /** Stops checks, sends what is buffered, waits for answers, then closes connections. */
  async drain(): Promise<void> {
    clearInterval(this.timer);
    await this.batcher.drain();
    await this.client.close();
  }

  private async sendBatch(rp: string, precision: string, chunks: Buffer[], bytes: number): Promise<WriteOutcome> {
    const outcome = await this.client.write(rp, precision, chunks, bytes);
    if (outcome.kind === 'unavailable') this.recordFailure(outcome.error);
    return outcome;
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const result = await this.client.ping();
      if (result.ok) this.recordSuccess();
      else this.recordFailure(result.error ?? 'ping failed');
    } finally {
      this.checking = false;
    }
  }

  private recordSuccess(): void {
    this.failures = 0;
    if (!this.healthy && ++this.successes >= RISE) {
      this.healthy = true;
      this.since = Date.now();
      this.logger.log(`backend ${this.name} is up`);
    }
  }

  private recordFailure(error: string): void {
    this.successes = 0;
    this.lastError = error;
    if (this.healthy && ++this.failures >= FALL) {
      this.healthy = false;
      this.since = Date.now();
      this.logger.warn(`backend ${this.name} is down: ${error}`);
    }
  }
}
