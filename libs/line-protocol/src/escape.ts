/**
 * Escaping for line protocol the proxy writes itself (the self-report; later, data moved between
 * backends), as influxd 1.x defines it (models/points.go, pkg/escape):
 *
 *   measurement         `,` and space
 *   tag key, tag value  `,`, `=` and space
 *   field key           `,`, `=`, space and `"` (influxd's own writer escapes the quote too; its parser reads both)
 *   string field value  `"` and `\` (inside the double quotes)
 *
 * A backslash is not escaped outside a string field value: influxd reads `\` before any other byte as
 * itself (so a name or tag that ends in `\` runs into what follows it, as with influxd's own writer). A line break cannot be escaped at all (it ends the line wherever it stands outside a string
 * field value): in names and tags it is written as an escaped space, so the line stays one line.
 */

const MEASUREMENT_SPECIAL = /[, \n]/;
const MEASUREMENT_CHAR = /[, \n]/g;
const TAG_SPECIAL = /[,= \n]/;
const TAG_CHAR = /[,= \n]/g;
const FIELD_KEY_SPECIAL = /[,= "\n]/;
const FIELD_KEY_CHAR = /[,= "\n]/g;
const STRING_FIELD_SPECIAL = /["\\]/;
const STRING_FIELD_CHAR = /["\\]/g;

/** A special byte with its backslash; a line break as an escaped space. */
function escaped(c: string): string {
  return c === '\n' ? '\\ ' : `\\${c}`;
}

/** A measurement name as written before its tags: `,` and space escaped. */
export function escapeMeasurement(name: string): string {
  return MEASUREMENT_SPECIAL.test(name) ? name.replace(MEASUREMENT_CHAR, escaped) : name;
}

/** A tag key or tag value: `,`, `=` and space escaped. (influxd drops a tag whose value is empty.) */
export function escapeTag(keyOrValue: string): string {
  return TAG_SPECIAL.test(keyOrValue) ? keyOrValue.replace(TAG_CHAR, escaped) : keyOrValue;
}

/** A field key: `,`, `=`, space and `"` escaped. */
export function escapeFieldKey(key: string): string {
  return FIELD_KEY_SPECIAL.test(key) ? key.replace(FIELD_KEY_CHAR, escaped) : key;
}

/** A string field value, quoted: `"` and `\` escaped inside the double quotes. */
export function quoteStringField(value: string): string {
  return `"${STRING_FIELD_SPECIAL.test(value) ? value.replace(STRING_FIELD_CHAR, escaped) : value}"`;
}
