/** influxd's binary operator precedence (AND/OR included), by which the parser builds every expression tree. */
export const BINARY_PRECEDENCE: Readonly<Record<string, number>> = {
  OR: 1,
  AND: 2,
  '=': 3,
  '!=': 3,
  '=~': 3,
  '!~': 3,
  '<': 3,
  '<=': 3,
  '>': 3,
  '>=': 3,
  '+': 4,
  '-': 4,
  '|': 4,
  '^': 4,
  '*': 5,
  '/': 5,
  '%': 5,
  '&': 5,
};

/** The largest int64: influxd's integer literals above it are unsigned (or out of range). */
export const INT64_MAX = (1n << 63n) - 1n;
