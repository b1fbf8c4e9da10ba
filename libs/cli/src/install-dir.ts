import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The nearest directory at or above `from` that holds a package.json: the install directory, home of
 * the embedded default config.json. The compiled files sit several levels down in dist/, the sources
 * in apps/ or libs/ under ts-jest, so walking up finds the same root either way.
 */
export function findInstallDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

/** The version field of `dir`'s package.json, or 'unknown' when it cannot be read. */
export function readPackageVersion(dir: string): string {
  try {
    return String(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/** The install directory (where package.json is), home of the embedded default config.json. */
export const INSTALL_DIR = findInstallDir(__dirname);

/** influxdb-proxy's version, as its package.json says: what every binary's --version prints. */
export const PACKAGE_VERSION = readPackageVersion(INSTALL_DIR);
