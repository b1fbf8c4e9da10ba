import { UNPARSABLE_CREDENTIALS, parseCredentials } from './credentials';

const basic = (text: string) => `Basic ${Buffer.from(text, 'utf8').toString('base64')}`;
const parse = (search: string, authorization?: string) => parseCredentials(new URLSearchParams(search), authorization);
const user = (username: string, password: string) => ({ kind: 'user', username, password });
const none = { kind: 'none', error: UNPARSABLE_CREDENTIALS };

describe('parseCredentials (influxd 1.8 parseCredentials)', () => {
  it('takes u and p from the URL when both are non-empty, before any header', () => {
    expect(parse('u=alice&p=secret')).toEqual(user('alice', 'secret'));
    expect(parse('u=alice&p=secret', basic('bob:other'))).toEqual(user('alice', 'secret'));
    expect(parse('u=al%20ice&p=s%3Acret%26')).toEqual(user('al ice', 's:cret&'));
  });

  it('falls through to the header when u or p is missing or empty', () => {
    expect(parse('u=alice')).toEqual(none);
    expect(parse('p=secret')).toEqual(none);
    expect(parse('u=alice&p=')).toEqual(none);
    expect(parse('u=alice', basic('bob:pw'))).toEqual(user('bob', 'pw'));
  });

  it('reads Basic auth, splitting at the first colon', () => {
    expect(parse('', basic('alice:secret'))).toEqual(user('alice', 'secret'));
    expect(parse('', basic('alice:se:cr et'))).toEqual(user('alice', 'se:cr et'));
    expect(parse('', basic('alice:'))).toEqual(user('alice', ''));
    expect(parse('', basic(':secret'))).toEqual(user('', 'secret'));
    expect(parse('', basic('älice:pässword'))).toEqual(user('älice', 'pässword'));
    expect(parse('', `basic ${Buffer.from('a:b').toString('base64')}`)).toEqual(user('a', 'b'));
  });

  it('reads Token user:pass', () => {
    expect(parse('', 'Token alice:secret')).toEqual(user('alice', 'secret'));
    expect(parse('', 'Token alice:se:cret')).toEqual(user('alice', 'se:cret'));
    expect(parse('', 'Token :secret')).toEqual(user('', 'secret'));
  });

  it('recognizes Bearer (JWT) so it can be refused the way influxd refuses it without a shared secret', () => {
    expect(parse('', 'Bearer eyJhbGciOi.x.y')).toEqual({ kind: 'bearer' });
  });

  it('refuses what influxd cannot parse with "unable to parse authentication credentials"', () => {
    expect(parse('')).toEqual(none);
    expect(parse('', '')).toEqual(none);
    expect(parse('', 'Basic')).toEqual(none);
    expect(parse('', 'Basic !!!!')).toEqual(none);
    expect(parse('', 'Basic YWxpY2U')).toEqual(none); // unpadded
    expect(parse('', basic('no-colon'))).toEqual(none);
    expect(parse('', 'Token no-colon')).toEqual(none);
    expect(parse('', 'Token alice:pass word')).toEqual(none); // three space-separated parts
    expect(parse('', 'token alice:secret')).toEqual(none); // Token is case-sensitive in influxd
    expect(parse('', 'Digest username="alice"')).toEqual(none);
    expect(parse('', 'alice:secret')).toEqual(none);
  });
});
