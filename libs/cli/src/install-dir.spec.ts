import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findInstallDir, INSTALL_DIR, PACKAGE_VERSION, readPackageVersion } from './install-dir';

describe('install directory and version', () => {
  it('is the repository root, and the version is package.json’s', () => {
    expect(INSTALL_DIR).toBe(resolve(__dirname, '..', '..', '..'));
    expect(PACKAGE_VERSION).toBe(JSON.parse(readFileSync(join(INSTALL_DIR, 'package.json'), 'utf8')).version);
  });

  it('walks up to the nearest package.json, and reads "unknown" where there is none', () => {
    const root = mkdtempSync(join(tmpdir(), 'install-dir-'));
    try {
      const deep = join(root, 'dist', 'apps', 'x');
      mkdirSync(deep, { recursive: true });
      writeFileSync(join(root, 'package.json'), JSON.stringify({ version: '9.8.7' }));
      expect(findInstallDir(deep)).toBe(root);
      expect(readPackageVersion(root)).toBe('9.8.7');
      expect(readPackageVersion(deep)).toBe('unknown');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
