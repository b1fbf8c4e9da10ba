import { accessFor } from '../http/access-policy';

const on = { authEnabled: true, pingAuthEnabled: false, metaAuthEnabled: false };

describe('who may read /debug/vars', () => {
  it('is an admin with metaAuthEnabled, as for /metrics', () => {
    expect(accessFor('/debug/vars', 'GET', { ...on, metaAuthEnabled: true })).toBe('admin');
  });

  it('is any user otherwise while auth is on (never open: it shows the command line and backend URLs)', () => {
    expect(accessFor('/debug/vars', 'GET', on)).toBe('user');
    expect(accessFor('/debug/vars', 'GET', { ...on, authEnabled: false })).toBe('open');
  });
});
