/**
 * The one place secrets are masked before anything is logged or shown (`/meta`): passwords in URLs
 * (`http://user:secret@host`), the password parameters of a request target (`p=`, and the password
 * literals of its `q`), secret-looking keys of a config object, the password literals of InfluxQL
 * (`CREATE USER x WITH PASSWORD '…'`, `SET PASSWORD FOR x = '…'`), and — as a last net for free text —
 * whatever of these a log message still carries.
 *
 * Query text is masked on its raw form, token by token with the InfluxQL lexer (so any whitespace,
 * comment or case between the tokens, quoted identifiers and escaped quotes inside the password read
 * as influxd reads them), BEFORE it is quoted or escaped for a log line: once `\n` has become the two
 * characters `\` `n`, no pattern can tell where a keyword starts.
 */
import { Lexer, type Token } from '@app/influxql';

/** What every masked secret is shown as (the Go proxy's config.py masks with the same six stars). */
export const MASK = '******';

const PASSWORD_WORD = /password/i;

/** `http://user:secret@host/…` → `http://user:******@host/…`; anything else unchanged. */
export function maskUrlPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = MASK;
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * A backend's connection settings as shown (`/meta`): the password in its URL and its `password`
 * masked; the same object when it holds neither.
 */
export function maskBackendPasswords<T extends { url: string; password?: string }>(config: T): T {
  const url = maskUrlPassword(config.url);
  if (config.password === undefined && url === config.url) return config;
  return { ...config, url, ...(config.password === undefined ? {} : { password: MASK }) };
}

/**
 * A request target (`/query?u=a&p=…&q=…`) with its password parameters taken out: `p` dropped (as the
 * README has always said), the password literals of `q` masked, and `params` masked when `q` has a
 * password to bind (`WITH PASSWORD $pw`).
 */
export function maskPasswordParams(target: string): string {
  const at = target.indexOf('?');
  if (at < 0) return target;
  const params = [...new URLSearchParams(target.slice(at + 1))];
  // every q, not only the one the proxy runs: a second one is logged all the same
  const hasPasswordInQuery = params.some(([name, value]) => name === 'q' && PASSWORD_WORD.test(value));
  if (!hasPasswordInQuery && !params.some(([name]) => name === 'p')) return target;
  const kept = new URLSearchParams();
  for (const [name, value] of params) {
    if (name === 'p') continue;
    if (name === 'q') kept.append(name, maskQueryPasswords(value));
    else kept.append(name, name === 'params' && hasPasswordInQuery ? MASK : value);
  }
  const rest = kept.toString();
  return rest === '' ? target.slice(0, at) : `${target.slice(0, at)}?${rest}`;
}

const SECRET_KEY = /^(password|hash|secret|token)$/i;

/** A deep copy with every value under a secret-looking key (password, hash, secret, token) masked. */
export function maskSecretKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(maskSecretKeys) as T;
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) && v !== undefined ? MASK : maskSecretKeys(v)]),
  ) as T;
}

/**
 * InfluxQL text, raw (as the client sent it, not yet quoted for a log line), with every password
 * literal masked: the string after `PASSWORD` (`CREATE USER u WITH PASSWORD '…'`) or after
 * `PASSWORD FOR u =` (`SET PASSWORD FOR u = '…'`), comments and stray characters between the tokens
 * skipped as influxd skips them. Where a literal is malformed (a line break in it, an unknown escape,
 * a text cut short) nobody can say where it ends, and the lexer is out of step with influxd's after
 * any malformed token: from there on the text is masked as free text (maskSecretsInLogText), or whole
 * when it is the password's place. Comments that mention a password are masked the same way.
 * Cheap when the text does not contain "password" at all.
 */
export function maskQueryPasswords(q: string): string {
  if (!PASSWORD_WORD.test(q)) return q;
  const lexer = new Lexer(q);
  let out = '';
  let copied = 0; // q[0, copied) is in out already
  const mask = (from: number, to: number, replacement: string) => {
    out += q.slice(copied, from) + replacement;
    copied = to;
  };
  // after the PASSWORD keyword, the token the literal may come next to: PASSWORD, FOR, the user, `=`; none: -1
  let after: -1 | 0 | 1 | 2 | 3 = -1;
  for (let pos = 0; ;) {
    // a bad escape is reported at its backslash: its string began where this scan did
    const at = pos;
    const t: Token = lexer.scan(at);
    if (t.kind === 'eof') break;
    pos = t.end;
    if (t.kind === 'whitespace') continue;
    if (t.kind === 'comment' || t.kind === 'illegal') {
      // (an unclosed `/*` is one illegal token running to the end)
      if (PASSWORD_WORD.test(t.text)) mask(t.start, t.end, maskSecretsInLogText(t.text));
      continue;
    }
    if (t.kind === 'bad-string' || t.kind === 'bad-escape' || t.kind === 'bad-regex') {
      mask(at, q.length, after >= 0 ? MASK : maskSecretsInLogText(q.slice(at)));
      break;
    }
    if (after === 0 || after === 3) {
      if (t.kind === 'string') {
        mask(t.start, t.end, MASK);
        after = -1;
        continue;
      }
    }
    if (after === 0 && t.kind === 'keyword' && t.value === 'FOR') after = 1;
    else if (after === 1 && (t.kind === 'ident' || t.kind === 'bound-param' || t.kind === 'keyword')) after = 2;
    else if (after === 2 && t.kind === 'operator' && t.value === '=') after = 3;
    else after = t.kind === 'keyword' && t.value === 'PASSWORD' ? 0 : -1;
  }
  return copied === 0 ? q : out + q.slice(copied);
}

// `password`, then anything up to a quote (comments and `;` may sit between them in text influxd never
// parsed), then the rest of that line: the escaping the text went through is unknown, so the closing
// quote cannot be found; the whole rest is masked. Text masked by maskQueryPasswords has no quote left
// after its PASSWORD unless a later statement has one: that string is masked too, a price paid only by
// log lines that mention a password.
const PASSWORD_IN_TEXT = /(password[^']*?)'[^\n]*/gi;
// `p=` as a URL/form parameter
const P_PARAM = /([?&]p=)[^&\s"'#]*/g;
// `scheme://user:secret@`
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/@:]*:)[^\s/@]*@/gi;
// an Authorization header's credentials: Basic and Bearer ones are one base64/JWT word; `Token user:password`
// may hold any character but a line break
const AUTH_SCHEME = /\b(Basic|Bearer)( +)[^\s"',;]+|\b(Token)( +)[^\n]*/g;

/**
 * The last net for free log text (messages, stack traces), which may carry a query already quoted
 * or escaped: a quoted string after "password" is masked with the rest of its line, and `p=`
 * parameters, URL passwords and Basic/Token credentials are masked. Queries are masked with
 * maskQueryPasswords before they are quoted; this only catches what a caller forgot.
 */
export function maskSecretsInLogText(text: string): string {
  let out = text;
  if (PASSWORD_WORD.test(out)) out = out.replace(PASSWORD_IN_TEXT, `$1${MASK}`);
  if (out.includes('p=')) out = out.replace(P_PARAM, `$1${MASK}`);
  if (out.includes('://')) out = out.replace(URL_USERINFO, `$1${MASK}@`);
  if (out.includes('Basic') || out.includes('Token') || out.includes('Bearer')) out = out.replace(AUTH_SCHEME, maskCredentials);
  return out;
}

function maskCredentials(_match: string, word: string | undefined, gap: string | undefined, token: string, tokenGap: string): string {
  return word === undefined ? `${token}${tokenGap}${MASK}` : `${word}${gap}${MASK}`;
}
