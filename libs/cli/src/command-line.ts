/**
 * What every yargs-parsed binary (bin/influxdb-proxy, bin/influxdb-sentinel) does the same way:
 * --version, --help laid out for an 80-column terminal, and unknown flags refused, each named once.
 */
import type { Argv } from 'yargs';
import { PACKAGE_VERSION } from './install-dir';

/** Help is laid out for the terminal, never wider than 80 columns (and 80 when piped). */
export function helpWidth(terminalColumns: number | null | undefined): number {
  return Math.max(40, Math.min(80, terminalColumns || 80));
}

/** The type tags yargs puts first in an option's right-hand column ("[number] [default: 5]"). */
const GLUED_EXTRAS = /^(.*\S)(\[(?:boolean|count|string|array|number)\](?: \[.*)?)$/;

/**
 * cliui (yargs' layout) puts an option's "[type] [default: …]" on the description's last line when
 * it fits, and when the description ends exactly where that column starts the two touch
 * ("before failing[number] [default: 5]"). Such a line is split here as cliui splits one that does
 * not fit: the description alone, then the tags right-aligned on a line of their own.
 */
export function unglueHelpColumns(help: string, width: number): string {
  return help
    .split('\n')
    .map((line) => {
      const m = GLUED_EXTRAS.exec(line);
      if (!m) return line;
      return `${m[1]}\n${m[2].padStart(Math.max(width, m[2].length))}`;
    })
    .join('\n');
}

/**
 * The flags in `parsed` that no option declares, each once. yargs' own strict check names a dashed
 * unknown flag twice, as typed and as the camelCase key its parser adds ("bogus-flag, bogusFlag").
 */
export function unknownFlags(parsed: Record<string, unknown>, declared: readonly string[]): string[] {
  const known = new Set<string>(['_', '$0']);
  for (const key of declared) {
    known.add(key);
    known.add(camelCase(key));
  }
  const unknown = Object.keys(parsed).filter((key) => !known.has(key));
  const camelTwins = new Set(unknown.filter((key) => key.includes('-')).map(camelCase));
  return unknown.filter((key) => key.includes('-') || !camelTwins.has(key));
}

function camelCase(flag: string): string {
  return flag.replace(/-+([^-])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Adds --version (package.json's) and --help to `parser`, parses `argv`, and exits as yargs would:
 * help or version on stdout with status 0; a bad value or an unknown flag on stderr, after the help,
 * with status 1. yargs is given a parse callback so that its output comes back here to be laid out.
 */
export function parseCommandLine<T>(parser: Argv<T>, argv: readonly string[]) {
  const width = helpWidth(process.stdout.columns);
  let failure: Error | undefined;
  let output = '';
  const args = parser
    .version(PACKAGE_VERSION)
    .help()
    .wrap(width)
    .strict(false)
    .parseSync(argv, {}, (err, _parsed, text) => {
      failure = err ?? undefined;
      output = text;
    });
  if (failure) {
    process.stderr.write(`${unglueHelpColumns(output, width)}\n`);
    process.exit(1);
  }
  if (output) {
    process.stdout.write(`${unglueHelpColumns(output, width)}\n`);
    process.exit(0);
  }
  const unknown = unknownFlags(args, declaredFlags(parser));
  if (unknown.length > 0) {
    let help = '';
    parser.showHelp((text) => (help = text));
    const names = unknown.map((s) => (s.trim() ? s : JSON.stringify(s))).join(', ');
    process.stderr.write(
      `${unglueHelpColumns(help, width)}\n\n${unknown.length === 1 ? 'Unknown argument' : 'Unknown arguments'}: ${names}\n`,
    );
    process.exit(1);
  }
  return args;
}

/** Every flag `parser` declares (help and version included); yargs has getOptions() but its types omit it. */
function declaredFlags(parser: Argv<unknown>): string[] {
  return Object.keys((parser as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions().key);
}
