import { loggerFor } from '@app/logging';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { Subject, type Observable } from 'rxjs';
import { type ClusterConfig, type ConfigRules, ConfigValidationError, parseClusterConfig } from './cluster-config.schema';
import { ConfigProvider } from './config.provider';

/** The embedded default store: one JSON document, re-read when the file changes or on POST /reload. */
export class FileConfigProvider extends ConfigProvider {
  private readonly logger = loggerFor(FileConfigProvider.name);
  private readonly path: string;
  private readonly changes = new Subject<ClusterConfig>();
  private watcher?: FSWatcher;
  private debounce?: NodeJS.Timeout;
  private lastText?: string;

  constructor(
    path: string,
    private readonly rules: ConfigRules,
  ) {
    super();
    this.path = resolve(path);
  }

  async load(): Promise<ClusterConfig> {
    const { config, text } = await this.read();
    this.lastText = text;
    this.startWatching();
    return config;
  }

  watch(): Observable<ClusterConfig> {
    return this.changes.asObservable();
  }

  async reload(): Promise<ClusterConfig> {
    const { config, text } = await this.read();
    this.lastText = text;
    return config;
  }

  describe() {
    return { kind: 'file', address: this.path };
  }

  async close(): Promise<void> {
    clearTimeout(this.debounce);
    this.watcher?.close();
    this.changes.complete();
  }

  private async read(): Promise<{ config: ClusterConfig; text: string }> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      throw new ConfigValidationError(`cannot read config file ${this.path}: ${(err as Error).message}`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigValidationError(`config file ${this.path} is not valid JSON: ${(err as Error).message}`);
    }
    const config = parseClusterConfig(raw, this.rules, (msg) => this.logger.warn(msg));
    return { config, text };
  }

  /** Watches the directory, not the file: editors and `mv` replace the file, which ends a file watch. */
  private startWatching(): void {
    if (this.watcher) return;
    const name = basename(this.path);
    this.watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
      if (file !== null && file !== name) return;
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => void this.onFileChanged(), 100);
    });
    this.watcher.on('error', (err) => this.logger.warn(`config file watch failed: ${err.message}`));
  }

  private async onFileChanged(): Promise<void> {
    try {
      const { config, text } = await this.read();
      if (text === this.lastText) return;
      this.lastText = text;
      this.logger.log(`config file ${this.path} changed; applying it`);
      this.changes.next(config);
    } catch (err) {
      this.logger.error(`config file change refused, keeping the last good config: ${(err as Error).message}`);
    }
  }
}
