// Command-line flags: strict parsing, usage on error (exit 2), --help.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** A bad flag: the message and the usage on stderr, exit code 2. */
export function failUsage(usage: string, message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

/** Strict parseArgs (no positionals); `--help` prints the usage and exits 0. The caller
 *  declares `help` among its options so that it appears in the parsed values' type. */
export function parseArgsOrExit<O extends OptionsConfig>(usage: string, options: O) {
  let parsed;
  try {
    parsed = parseArgs({ options, strict: true, allowPositionals: false });
  } catch (err) {
    failUsage(usage, (err as Error).message);
  }
  if ((parsed.values as { help?: unknown }).help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return parsed.values;
}

export function wholeNumber(usage: string, name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    failUsage(usage, `--${name}: must be a whole number from ${min} to ${max}, got ${raw}`);
  }
  return n;
}
