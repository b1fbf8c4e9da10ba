/** Go's RE2 `.` matches anything but `\n`. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[^\n]/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Whether influxd reads the string literal `s`, compared with `time`, as a time (influxql `StringLiteral.IsTimeLiteral`:
 * `^\d{4}-\d{2}-\d{2}.+` or `^\d{4}-\d{2}-\d{2}$`); it then errors if the read fails.
 */
export function isTimeLiteralText(s: string): boolean {
  return DATE_TIME.test(s) || DATE_ONLY.test(s);
}
