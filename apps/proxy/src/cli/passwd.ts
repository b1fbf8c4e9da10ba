import { DEFAULT_SCRYPT, hashPassword } from '@app/auth';
import { PACKAGE_VERSION } from '@app/cli';

/**
 * `bin/influxdb-proxy-passwd`: prints the scrypt hash of a password for a proxy user's `hash` field.
 * The password is read from the terminal (twice, not echoed) or, when stdin is not a terminal, as
 * the first line of stdin — never from the command line, where `ps` and shell history would keep it.
 */
const USAGE = `usage: influxdb-proxy-passwd [--cost LN] | --version

Reads a password (from the terminal, or the first line of stdin) and prints its scrypt hash,
$scrypt$ln=${DEFAULT_SCRYPT.ln},r=${DEFAULT_SCRYPT.r},p=${DEFAULT_SCRYPT.p}$<salt>$<key>, for a proxy user's "hash" in the config:

  "users": { "alice": { "hash": "<that line>", "admin": true } }

  --cost LN   log2 of scrypt's N, 10..20 (default ${DEFAULT_SCRYPT.ln}; each step doubles time and memory)
  --version   print the version of influxdb-proxy and exit
`;

async function main(argv: string[]): Promise<number> {
  let ln = DEFAULT_SCRYPT.ln;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i].replace(/^--?/, '-');
    if (arg === '-h' || arg === '-help') {
      process.stdout.write(USAGE);
      return 0;
    }
    if (arg === '-version') {
      process.stdout.write(`${PACKAGE_VERSION}\n`);
      return 0;
    }
    if (arg === '-cost' && i + 1 < argv.length) {
      ln = Number(argv[++i]);
      if (!Number.isInteger(ln) || ln < 10 || ln > 20) return fail('--cost must be an integer 10..20');
      continue;
    }
    return fail(`unknown argument ${JSON.stringify(argv[i])}\n\n${USAGE}`);
  }
  let password: string;
  if (process.stdin.isTTY) {
    password = await promptHidden('Password: ');
    const again = await promptHidden('Again: ');
    if (again !== password) return fail('the passwords differ');
  } else {
    password = await firstLine();
  }
  if (password === '') return fail('empty password');
  process.stdout.write(`${await hashPassword(password, { ...DEFAULT_SCRYPT, ln })}\n`);
  return 0;
}

function fail(message: string): number {
  process.stderr.write(`influxdb-proxy-passwd: ${message}\n`);
  return 2;
}

async function firstLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const nl = text.indexOf('\n');
  return (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
}

/** Reads one line from the terminal without echoing it. */
function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let line = '';
    const done = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (data: Buffer) => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.on('data', onData);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.exitCode = fail(err.message);
  },
);
