// Named re-exports, not `export *`: for `export *` tsc's CommonJS output reads every name through one
// shared getter (`m[k]`), a megamorphic load on each use, and the route stage scans a 5000-line body
// with 5000 calls of nextLine. A named re-export gets a getter of its own, a plain property read.
export { LineCursor, LineError, hashBytes, lineText, nextLine, unescapeMeasurement } from './line-scanner';
export { PRECISIONS, type Precision, TimestampClock, isValidPrecision, timestampFor, writePrecisionOf } from './precision';
export { escapeFieldKey, escapeMeasurement, escapeTag, quoteStringField } from './escape';
