import { Lexer, type Token } from './tokenizer';
import type { StatementKind } from './types';

/**
 * Statement dispatch by leading keywords, in influxd's registration order (which is the order influxd lists
 * them in "expected …" errors). A leaf names the handler that parses the rest of the statement.
 */
export type StatementHandler =
  Exclude<StatementKind, 'unknown' | 'show-series-cardinality' | 'show-tag-values-cardinality'> | 'show-measurement-exact-cardinality';

export interface KeywordTrie {
  readonly [keyword: string]: KeywordTrie | StatementHandler;
}

export const STATEMENT_TRIE: KeywordTrie = {
  SELECT: 'select',
  DELETE: 'delete',
  SHOW: {
    CONTINUOUS: { QUERIES: 'show-continuous-queries' },
    DATABASES: 'show-databases',
    DIAGNOSTICS: 'show-diagnostics',
    FIELD: { KEY: 'show-field-key-cardinality', KEYS: 'show-field-keys' },
    GRANTS: { FOR: 'show-grants' },
    MEASUREMENT: { EXACT: 'show-measurement-exact-cardinality', CARDINALITY: 'show-measurement-cardinality' },
    MEASUREMENTS: 'show-measurements',
    QUERIES: 'show-queries',
    RETENTION: { POLICIES: 'show-retention-policies' },
    // SHOW SERIES [EXACT] CARDINALITY is told apart by the handler.
    SERIES: 'show-series',
    SHARD: { GROUPS: 'show-shard-groups' },
    SHARDS: 'show-shards',
    STATS: 'show-stats',
    SUBSCRIPTIONS: 'show-subscriptions',
    // SHOW TAG VALUES [EXACT] CARDINALITY is told apart by the handler.
    TAG: { KEY: 'show-tag-key-cardinality', KEYS: 'show-tag-keys', VALUES: 'show-tag-values' },
    USERS: 'show-users',
  },
  CREATE: {
    CONTINUOUS: { QUERY: 'create-continuous-query' },
    DATABASE: 'create-database',
    USER: 'create-user',
    RETENTION: { POLICY: 'create-retention-policy' },
    SUBSCRIPTION: 'create-subscription',
  },
  DROP: {
    CONTINUOUS: { QUERY: 'drop-continuous-query' },
    DATABASE: 'drop-database',
    MEASUREMENT: 'drop-measurement',
    RETENTION: { POLICY: 'drop-retention-policy' },
    SERIES: 'drop-series',
    SHARD: 'drop-shard',
    SUBSCRIPTION: 'drop-subscription',
    USER: 'drop-user',
  },
  EXPLAIN: 'explain',
  GRANT: 'grant',
  REVOKE: 'revoke',
  ALTER: { RETENTION: { POLICY: 'alter-retention-policy' } },
  SET: { PASSWORD: { FOR: 'set-password' } },
  KILL: { QUERY: 'kill-query' },
};

/** The child of `node` for token `t`, if `t` is a keyword the node knows. */
export function trieStep(node: KeywordTrie, t: Token): KeywordTrie | StatementHandler | undefined {
  if (t.kind !== 'keyword' || !Object.prototype.hasOwnProperty.call(node, t.value)) return undefined;
  return node[t.value];
}

/**
 * The kind of the first statement in `text`, judged from its leading keywords only (no full parse, never
 * throws). Returns `unknown` when the leading keywords are not an InfluxQL statement. Use `parseQuery`
 * to judge a whole query: this function does not look past the first statement's opening words.
 */
export function classifyStatement(text: string): StatementKind {
  const lexer = new Lexer(text);
  let pos = 0;
  const next = (): Token => {
    for (;;) {
      const t = lexer.scan(pos);
      pos = t.end;
      if (t.kind !== 'whitespace' && t.kind !== 'comment') return t;
    }
  };
  const isKw = (t: Token, kw: string): boolean => t.kind === 'keyword' && t.value === kw;

  let handler: StatementHandler;
  try {
    let node: KeywordTrie = STATEMENT_TRIE;
    for (;;) {
      const child = trieStep(node, next());
      if (child === undefined) return 'unknown';
      if (typeof child === 'string') {
        handler = child;
        break;
      }
      node = child;
    }
  } catch {
    return 'unknown';
  }

  if (handler === 'show-measurement-exact-cardinality') return 'show-measurement-cardinality';
  if (handler !== 'show-series' && handler !== 'show-tag-values') return handler;
  // Look one or two words further for [EXACT] CARDINALITY, as the parser does.
  try {
    const t = next();
    if (handler === 'show-tag-values') {
      return isKw(t, 'EXACT') || isKw(t, 'CARDINALITY') ? 'show-tag-values-cardinality' : handler;
    }
    if (isKw(t, 'CARDINALITY')) return 'show-series-cardinality';
    if (isKw(t, 'EXACT') && isKw(next(), 'CARDINALITY')) return 'show-series-cardinality';
  } catch {
    // A lexical error after the leading keywords does not change what the statement is.
  }
  return handler;
}
