import { ConfigProvider, type ConfigRules, ConfigValidationError, FileConfigProvider } from '@app/config';
import { Test, type TestingModule } from '@nestjs/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterStoreModule } from './cluster-store.module';
import { MembershipStore } from './membership';
import { SentinelStore } from './sentinel-store';

/** Rules unlike the apps' own, so a config they refuse proves the module hands its rules to the provider. */
const rules: ConfigRules = {
  statementKinds: ['select'],
  checkPasswordHash: (hash) => {
    if (hash !== 'good') throw new Error('only "good" will do');
  },
};

describe('ClusterStoreModule on a config file', () => {
  let dir: string;
  let path: string;
  let module: TestingModule;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cluster-store-module-'));
    path = join(dir, 'proxy.json');
    module = await Test.createTestingModule({ imports: [ClusterStoreModule.forRoot({ kind: 'file', path }, rules)] })
      .setLogger(false as never)
      .compile();
  });

  afterAll(async () => {
    await module?.get(ConfigProvider).close();
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (proxy: Record<string, unknown>) =>
    writeFileSync(
      path,
      JSON.stringify({ backends: { a: { url: 'http://127.0.0.1:1', db: 'x' } }, proxies: { p1: { listenAddr: ':1', ...proxy } } }),
    );

  it('reads the file through the rules it was given', async () => {
    const provider = module.get(ConfigProvider);
    expect(provider).toBeInstanceOf(FileConfigProvider);
    write({ forbiddenStatements: ['select'], users: { alice: { hash: 'good' } } });
    expect((await provider.reload()).proxies.p1.forbiddenStatements).toEqual(['select']);
    write({ forbiddenStatements: ['delete'] });
    await expect(provider.reload()).rejects.toThrow(/^proxies\.p1\.forbiddenStatements\.0: unknown statement kind "delete"$/);
    write({ users: { alice: { hash: 'bad' } } });
    await expect(provider.reload()).rejects.toThrow(ConfigValidationError);
    await expect(provider.reload()).rejects.toThrow(/^proxies\.p1\.users\.alice\.hash: only "good" will do$/);
  });

  it('keeps membership and the sentinels in this process: a file shares nothing', () => {
    expect(module.get(MembershipStore).scope).toBe('process');
    expect(module.get(SentinelStore).scope).toBe('process');
  });
});
