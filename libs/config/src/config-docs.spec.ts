import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseClusterConfig } from '@app/config';
import { configRules } from '../../../test/support/config-rules';

/**
 * docs/configuration.md lists every backend and proxy field with the default the proxy fills in. The schema
 * is what fills them in, so the two are held together here: a default changed in one and not in the other,
 * a field added to the schema and not documented, or a documented field the schema does not know, fails.
 */

const DOC = path.join(__dirname, '..', '..', '..', 'docs', 'configuration.md');

/** What a table row says about a field's default. */
type DocumentedDefault = { kind: 'value'; value: unknown } | { kind: 'required' } | { kind: 'none' };

/** The fields of the table under `heading` (`### Backend fields`), by name. */
function documentedFields(markdown: string, heading: string): Map<string, DocumentedDefault> {
  const lines = markdown.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`${DOC} has no "${heading}"`);
  const rows: string[] = [];
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('|')) rows.push(line);
    else if (rows.length > 0) break; // the first line after the table ends it
  }
  const fields = new Map<string, DocumentedDefault>();
  for (const row of rows.slice(2)) {
    // | `name`[, `name`] | default | meaning |  (the meaning may hold `|` only inside backticks; it is not read)
    const [names, defaultCell] = row
      .replace(/^\| /, '')
      .split(' | ')
      .map((cell) => cell.trim());
    const documented = parseDefault(defaultCell, row);
    for (const name of names.split(', ')) {
      const match = /^`([A-Za-z]+)`$/.exec(name);
      if (!match) throw new Error(`unreadable field name ${JSON.stringify(name)} in: ${row}`);
      fields.set(match[1], documented);
    }
  }
  if (fields.size === 0) throw new Error(`no table under "${heading}" in ${DOC}`);
  return fields;
}

function parseDefault(cell: string, row: string): DocumentedDefault {
  if (cell === 'required') return { kind: 'required' };
  if (cell === 'none') return { kind: 'none' };
  const match = /^`([^`]*)`/.exec(cell);
  if (!match) throw new Error(`the default is not \`JSON\`, "required" or "none" in: ${row}`);
  return { kind: 'value', value: JSON.parse(match[1]) };
}

/** The smallest valid config: only the required fields. */
const MINIMAL = {
  backends: { b: { url: 'http://127.0.0.1:8086', db: 'x' } },
  keymaps: { _default_: ['b'] },
  proxies: { p: { listenAddr: '127.0.0.1:8087' } },
};

const markdown = fs.readFileSync(DOC, 'utf8');
const parsed = parseClusterConfig(MINIMAL, configRules);

describe.each([
  {
    table: '### Backend fields',
    section: 'backends',
    filled: parsed.backends.b as unknown as Record<string, unknown>,
    required: MINIMAL.backends.b,
  },
  {
    table: '### Proxy fields',
    section: 'proxies',
    filled: parsed.proxies.p as unknown as Record<string, unknown>,
    required: MINIMAL.proxies.p,
  },
] as const)('docs/configuration.md $table', ({ table, section, filled, required }) => {
  const documented = documentedFields(markdown, table);

  it('gives the defaults the schema fills in for a minimal config', () => {
    const claimed: Record<string, unknown> = {};
    const actual: Record<string, unknown> = {};
    for (const [name, doc] of documented) {
      if (doc.kind === 'required') continue;
      claimed[name] = doc.kind === 'value' ? doc.value : undefined;
      actual[name] = filled[name];
    }
    expect(claimed).toEqual(actual);
  });

  it('documents every field the schema fills in, and marks exactly the minimal config’s fields required', () => {
    expect([...documented.keys()].filter((name) => !(name in filled) && documented.get(name)?.kind !== 'none')).toEqual([]);
    expect(Object.keys(filled).filter((name) => !documented.has(name))).toEqual([]);
    const requiredNames = [...documented].filter(([, d]) => d.kind === 'required').map(([name]) => name);
    expect(requiredNames.sort()).toEqual(Object.keys(required).sort());
  });

  it('documents no field the schema does not know', () => {
    // every documented name, with a value no field takes: the unknown ones are warned about before validation fails
    const everything = Object.fromEntries([...documented.keys()].map((name) => [name, Symbol('invalid')]));
    const raw = section === 'backends' ? { ...MINIMAL, backends: { b: everything } } : { ...MINIMAL, proxies: { p: everything } };
    const warnings: string[] = [];
    expect(() => parseClusterConfig(raw, configRules, (msg) => warnings.push(msg))).toThrow();
    expect(warnings).toEqual([]);
  });
});
