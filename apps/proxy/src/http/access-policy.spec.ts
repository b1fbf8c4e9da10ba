import { accessFor, canonicalPath } from './access-policy';

const on = { authEnabled: true, pingAuthEnabled: false, metaAuthEnabled: false };

describe('accessFor', () => {
  it('leaves everything open while auth is off', () => {
    const off = { ...on, authEnabled: false };
    for (const path of ['/write', '/query', '/reload', '/meta', '/metrics', '/nope']) expect(accessFor(path, 'POST', off)).toBe('open');
  });

  it('asks a user for /write and /query, but not for their CORS preflight', () => {
    expect(accessFor('/write', 'POST', on)).toBe('user');
    expect(accessFor('/query', 'GET', on)).toBe('user');
    expect(accessFor('/write', 'OPTIONS', on)).toBe('open');
    expect(accessFor('/query', 'OPTIONS', on)).toBe('open');
  });

  it('keeps /ping and /health open unless pingAuthEnabled', () => {
    expect(accessFor('/ping', 'GET', on)).toBe('open');
    expect(accessFor('/health', 'GET', on)).toBe('open');
    expect(accessFor('/ping', 'HEAD', { ...on, pingAuthEnabled: true })).toBe('user');
    expect(accessFor('/health', 'GET', { ...on, pingAuthEnabled: true })).toBe('user');
  });

  it('always asks an admin for /reload; /meta and /metrics only with metaAuthEnabled', () => {
    expect(accessFor('/reload', 'POST', on)).toBe('admin');
    expect(accessFor('/meta', 'GET', on)).toBe('open');
    expect(accessFor('/metrics', 'GET', on)).toBe('open');
    expect(accessFor('/metrics', 'GET', { ...on, pingAuthEnabled: true })).toBe('user');
    const meta = { ...on, metaAuthEnabled: true };
    expect(accessFor('/meta', 'GET', meta)).toBe('admin');
    expect(accessFor('/metrics', 'GET', meta)).toBe('admin');
  });

  it('asks a user for any other path, so nothing is open by omission', () => {
    expect(accessFor('/', 'GET', on)).toBe('user');
    expect(accessFor('/debug/vars', 'GET', on)).toBe('user');
    expect(accessFor('*', 'OPTIONS', on)).toBe('user');
  });

  it('sees through the spellings Express routes to the same admin controller', () => {
    const meta = { ...on, metaAuthEnabled: true };
    for (const path of ['/RELOAD', '/Reload/', '//reload', '/%72eload', '/x/../reload', '/./reload', 'http://h:1/reload', '/reload/x']) {
      expect([path, accessFor(path, 'POST', on)]).toEqual([path, 'admin']);
    }
    for (const path of ['/META', '/meta/', '/%6deta', 'http://h/meta', '/Metrics']) {
      expect([path, accessFor(path, 'GET', meta)]).toEqual([path, 'admin']);
    }
  });
});

describe('canonicalPath', () => {
  it('decodes, lower-cases and normalizes', () => {
    expect(canonicalPath('/A//b/./c/../d/')).toBe('/a/b/d');
    expect(canonicalPath('/%zz')).toBe('/%zz');
    expect(canonicalPath('/')).toBe('/');
    expect(canonicalPath('/..')).toBe('/');
  });
});
