import { redactQuery, redactSecrets, redactUrl } from './redact';

describe('redaction of secrets in logs', () => {
  it('removes the p parameter from a request URL and keeps the rest', () => {
    expect(redactUrl('/write?db=x&u=bob&p=s3cret&precision=s')).toBe('/write?db=x&u=bob&precision=s');
    expect(redactUrl('/query?p=s3cret')).toBe('/query');
    expect(redactUrl('/ping')).toBe('/ping');
    expect(redactUrl('/write?db=x')).toBe('/write?db=x');
  });

  it('redacts password literals in a query carried in the URL', () => {
    const url = redactUrl(`/query?q=${encodeURIComponent("CREATE USER bob WITH PASSWORD 'pw1'")}&p=pw2`);
    expect(url).not.toMatch(/pw1|pw2/);
    expect(new URLSearchParams(url.split('?')[1]).get('q')).toBe('CREATE USER bob WITH PASSWORD [REDACTED]');
  });

  it('redacts InfluxQL password literals, quotes and escapes included', () => {
    expect(redactQuery("CREATE USER bob WITH PASSWORD 'it\\'s'; SHOW USERS")).toBe(
      'CREATE USER bob WITH PASSWORD [REDACTED]; SHOW USERS',
    );
    expect(redactQuery("set password for bob = 'x'")).toBe('set password for bob = [REDACTED]');
    expect(redactQuery('SELECT password FROM logins')).toBe('SELECT password FROM logins');
  });

  it('redacts any log message: JSON-quoted queries and p= parameters', () => {
    const msg = `query 1 refused: forbidden: ${JSON.stringify("CREATE USER a WITH PASSWORD 'zz9'")} from /query?u=a&p=zz8`;
    const out = redactSecrets(msg);
    expect(out).not.toMatch(/zz9|zz8/);
    expect(redactSecrets('nothing to hide')).toBe('nothing to hide');
  });
});
