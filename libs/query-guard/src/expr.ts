import { BINARY_PRECEDENCE as PRECEDENCE, INT64_MAX, parseDuration, type Token } from '@app/influxql';

/**
 * A small expression tree read back from a statement's tokens (the `@app/influxql` parser validates
 * expressions but keeps no tree). Shapes follow influxd's AST (influxdata/influxql ast.go) closely
 * enough to evaluate time conditions the way influxd's `Reduce` does.
 *
 * Bound parameters need nothing here: `parseQuery(q, { params })` already replaced each `$name` token by a
 * token of its value's type. The reader is forgiving: the tokens come from a statement influxd's grammar
 * accepted, but anything unexpected becomes an `unknown` node instead of an error, and it always advances.
 */
export type Expr =
  | { type: 'binary'; op: string; lhs: Expr; rhs: Expr }
  | { type: 'paren'; expr: Expr }
  | { type: 'call'; name: string; args: Expr[] }
  | { type: 'ref'; name: string }
  | { type: 'integer'; value: bigint }
  /** An integer literal above int64's range (influxd's UnsignedLiteral). */
  | { type: 'unsigned'; value: bigint }
  | { type: 'number'; value: number }
  | { type: 'duration'; ns: bigint }
  | { type: 'string'; value: string }
  | { type: 'boolean'; value: boolean }
  | { type: 'regex' }
  | { type: 'wildcard' }
  | { type: 'distinct' }
  | { type: 'unknown' };

/** Nesting beyond which the reader gives up on a sub-expression (the parser already caps nesting). */
const MAX_DEPTH = 1000;

/** Reads expressions out of `tokens[from, to)`. */
export class ExprReader {
  private pos: number;
  private depth = 0;

  constructor(
    private readonly tokens: readonly Token[],
    from: number,
    private readonly to: number,
  ) {
    this.pos = Math.max(0, from);
    this.to = Math.min(to, tokens.length);
  }

  /** Index of the next unread token. */
  get position(): number {
    return this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.to;
  }

  peek(offset = 0): Token | undefined {
    const i = this.pos + offset;
    return i < this.to ? this.tokens[i] : undefined;
  }

  next(): Token | undefined {
    const t = this.peek();
    if (t) this.pos++;
    return t;
  }

  /** Consumes the next token when it is the punctuation `p`. */
  acceptPunct(p: string): boolean {
    const t = this.peek();
    if (t && t.kind === 'punctuation' && t.value === p) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** A whole expression (binary operators by influxd's precedence, left-associative). */
  parseExpr(): Expr {
    if (++this.depth > MAX_DEPTH) {
      this.depth--;
      this.pos = this.to;
      return { type: 'unknown' };
    }
    try {
      return this.parseBinary(0);
    } finally {
      this.depth--;
    }
  }

  private parseBinary(minPrecedence: number): Expr {
    let lhs = this.parseUnary();
    for (;;) {
      const t = this.peek();
      const op = t ? binaryOp(t) : undefined;
      if (op === undefined || PRECEDENCE[op] < minPrecedence) break;
      this.pos++;
      let rhs: Expr;
      if (op === '=~' || op === '!~') {
        const r = this.peek();
        if (r && r.kind === 'regex') {
          this.pos++;
          rhs = { type: 'regex' };
        } else {
          rhs = this.parseUnary();
        }
      } else {
        rhs = this.parseBinary(PRECEDENCE[op] + 1);
      }
      lhs = { type: 'binary', op, lhs, rhs };
    }
    return lhs;
  }

  private parseUnary(): Expr {
    if (++this.depth > MAX_DEPTH) {
      this.depth--;
      this.pos = this.to;
      return { type: 'unknown' };
    }
    try {
      return this.parseUnaryInner();
    } finally {
      this.depth--;
    }
  }

  private parseUnaryInner(): Expr {
    const t = this.next();
    if (!t) return { type: 'unknown' };
    if (t.kind === 'punctuation' && t.value === '(') {
      const expr = this.parseExpr();
      this.acceptPunct(')');
      return { type: 'paren', expr };
    }
    switch (t.kind) {
      case 'ident': {
        const open = this.peek();
        // A call only when '(' follows the name directly (influxd scans without skipping whitespace).
        if (open && open.kind === 'punctuation' && open.value === '(' && open.start === t.end) {
          this.pos++;
          return this.parseCall(t.value.toLowerCase());
        }
        return this.parseVarRef(t);
      }
      case 'keyword':
        if (t.value === 'TRUE' || t.value === 'FALSE') return { type: 'boolean', value: t.value === 'TRUE' };
        if (t.value === 'DISTINCT') {
          const open = this.peek();
          if (open && open.kind === 'punctuation' && open.value === '(' && open.start === t.end) {
            this.pos++;
            return this.parseCall('distinct');
          }
          if (open && open.kind === 'ident') this.pos++;
          return { type: 'distinct' };
        }
        return { type: 'unknown' };
      case 'string':
        return { type: 'string', value: t.value };
      case 'number': {
        const value = Number(t.value);
        return Number.isFinite(value) ? { type: 'number', value } : { type: 'unknown' };
      }
      case 'integer': {
        const value = safeBigInt(t.value);
        if (value === undefined) return { type: 'unknown' };
        return value > INT64_MAX ? { type: 'unsigned', value } : { type: 'integer', value };
      }
      case 'duration': {
        const ns = parseDuration(t.value);
        return ns === undefined ? { type: 'unknown' } : { type: 'duration', ns };
      }
      case 'regex':
        return { type: 'regex' };
      case 'operator':
        if (t.value === '*') {
          this.skipCast();
          return { type: 'wildcard' };
        }
        if (t.value === '+' || t.value === '-') return this.parseSigned(t.value === '-');
        return { type: 'unknown' };
      default:
        // Unbound parameter (the parser refuses those), illegal or stray tokens.
        return { type: 'unknown' };
    }
  }

  /** influxd's `+x` / `-x`: a signed literal, or `±1 * operand` for references, calls and parentheses. */
  private parseSigned(negative: boolean): Expr {
    const operand = this.parseUnary();
    switch (operand.type) {
      case 'number':
        return negative ? { type: 'number', value: -operand.value } : operand;
      case 'integer':
        return negative ? { type: 'integer', value: BigInt.asIntN(64, -operand.value) } : operand;
      case 'unsigned':
        if (!negative) return operand;
        // -9223372036854775808 is int64's minimum; anything larger does not fit (influxd refuses it).
        return operand.value === INT64_MAX + 1n ? { type: 'integer', value: -operand.value } : { type: 'unknown' };
      case 'duration':
        return negative ? { type: 'duration', ns: BigInt.asIntN(64, -operand.ns) } : operand;
      case 'ref':
      case 'call':
      case 'paren':
        return { type: 'binary', op: '*', lhs: { type: 'integer', value: negative ? -1n : 1n }, rhs: operand };
      default:
        return { type: 'unknown' };
    }
  }

  /** Arguments after `name(`, through the closing `)`. */
  private parseCall(name: string): Expr {
    const args: Expr[] = [];
    if (this.acceptPunct(')')) return { type: 'call', name, args };
    for (;;) {
      const before = this.pos;
      const t = this.peek();
      if (t && t.kind === 'regex') {
        this.pos++;
        args.push({ type: 'regex' });
      } else {
        args.push(this.parseExpr());
      }
      if (this.acceptPunct(',')) continue;
      this.acceptPunct(')');
      if (this.pos === before) this.pos = Math.min(this.pos + 1, this.to);
      return { type: 'call', name, args };
    }
  }

  /** A reference after its first identifier: `.`-joined segments (dot directly attached) and a `::type` cast. */
  private parseVarRef(first: Token): Expr {
    let name = first.value;
    let end = first.end;
    for (;;) {
      const dot = this.peek();
      if (!dot || dot.kind !== 'punctuation' || dot.value !== '.' || dot.start !== end) break;
      this.pos++;
      name += '.';
      end = dot.end;
      const seg = this.peek();
      if (seg && seg.kind === 'ident' && seg.start === end) {
        this.pos++;
        name += seg.value;
        end = seg.end;
      }
    }
    this.skipCast();
    return { type: 'ref', name };
  }

  private skipCast(): void {
    const cast = this.peek();
    if (cast && cast.kind === 'punctuation' && cast.value === '::') {
      this.pos++;
      const type = this.peek();
      if (type && (type.kind === 'ident' || type.kind === 'keyword')) this.pos++;
    }
  }
}

function binaryOp(t: Token): string | undefined {
  if (t.kind === 'keyword' && (t.value === 'AND' || t.value === 'OR')) return t.value;
  if (t.kind === 'operator' && PRECEDENCE[t.value] !== undefined) return t.value;
  return undefined;
}

function safeBigInt(text: string): bigint | undefined {
  try {
    return BigInt(text);
  } catch {
    return undefined;
  }
}

/** Parses the one expression in `tokens[from, to)`; `unknown` when the range is empty. */
export function readExpr(tokens: readonly Token[], from: number, to: number): Expr {
  const r = new ExprReader(tokens, from, to);
  if (r.atEnd()) return { type: 'unknown' };
  return r.parseExpr();
}
