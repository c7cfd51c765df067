// Loads the Lua scripts (one file per operation, `<name>-<numberOfKeys>.lua`, so the key
// count cannot drift from the caller; `<name>-n.lua` for a script over a batch, whose key
// count is the batch's; shared code in lua/lib/, pulled in by `--!include`) and runs them
// as Redis Functions (FCALL): all of them one library (function-library.ts), which the
// runner loads on a server that lacks it — a standalone server, or every master of a
// cluster, where the keys route each call to their slot.
//
// Not as ioredis custom commands (defineCommand): every pipeline ioredis makes copies each
// defined command onto itself — with 38 scripts, about 8.5 KB and 76 properties per
// pipeline, which auto-pipelining (since turned off: client.ts) made once per event-loop
// turn on the webhook path.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, type Redis } from 'ioredis';
import { buildLibrary, type FunctionLibrary } from './function-library.js';
import { command } from './command.js';

const LUA_DIR = join(dirname(fileURLToPath(import.meta.url)), 'lua');
const LIB_DIR = join(LUA_DIR, 'lib');

export const SCRIPT_NAMES = [
  'create-account',
  'read-pool',
  // Account administration: members and numbers of an existing account.
  'add-staff',
  'add-numbers',
  'release-claim',
  // Issue #16: a softphone identity is claimed and let go together with its removal marker.
  'claim-identity',
  'retire-identity',
  // Plans and purchases (R8–R10): plans, cards, quotes, purchases, receipts, the reset schedule.
  'change-plan',
  'add-payment-method',
  'remove-payment-method',
  'create-quote',
  'purchase',
  'end-addon',
  'claim-due',
  'release-lease',
  // R19: the archive's marks in each account's pool.
  'archive-done',
  'calls-archived',
  // R15: reconciliation checks in each account's slot, and their global index.
  'schedule-check',
  'claim-checks',
  'reconcile-index',
  'claim-receipt',
  'receipt-sent',
  'receipt-failed',
  'adjust',
  'authorize-call',
  'create-authorization',
  'cancel-authorization',
  'record-call-event',
  'release-hold',
  // R20: a call Twilio completed that the live state never held (or lost), for the audit.
  'adopt-call',
  'set-alerts',
  'read-alerts',
  'alert-delivered',
  'media-stream',
  // Issue #8: staff members' open authorizations and access.
  'release-staff-authorizations',
  'remove-staff',
  'revoke-staff-tokens',
  // R20: an account rebuilt from the books (npm run restore).
  'restore-account',
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

export type ScriptReply = (string | number | null)[];

export interface ScriptRunner {
  run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<ScriptReply>;
}

interface ScriptSource {
  name: ScriptName;
  /** null: a batch script ("-n"), run with as many keys as it is given. */
  numberOfKeys: number | null;
  /** The script's own text; its libraries are the function library's. */
  source: string;
}

function loadSources(): ScriptSource[] {
  const files = readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua'));
  const out: ScriptSource[] = [];
  for (const name of SCRIPT_NAMES) {
    const file = files.find((f) => new RegExp(`^${name}-(\\d+|n)\\.lua$`).test(f));
    if (!file) throw new Error(`Lua script for ${name} is missing from ${LUA_DIR}`);
    const count = /-(\d+|n)\.lua$/.exec(file)![1]!;
    const numberOfKeys = count === 'n' ? null : Number(count);
    out.push({ name, numberOfKeys, source: readFileSync(join(LUA_DIR, file), 'utf8') });
  }
  return out;
}

/** Every script, as the one function library the runner loads (function-library.ts), and
 *  what the runner needs of each: the function to call and its key count. */
export function scriptLibrary(): Omit<FunctionLibrary, 'functions'> & { scripts: Map<ScriptName, { fn: string; numberOfKeys: number | null }> } {
  const sources = loadSources();
  const lib = buildLibrary(sources, (n) => readFileSync(join(LIB_DIR, `${n}.lua`), 'utf8'));
  return { name: lib.name, code: lib.code, scripts: new Map(sources.map((s) => [s.name, { fn: lib.functions.get(s.name)!, numberOfKeys: s.numberOfKeys }])) };
}

const isMissingFunction = (err: unknown) => err instanceof Error && err.message.startsWith('ERR Function not found');
const isLoadedAlready = (err: unknown) => err instanceof Error && /^ERR Library '.*' already exists/.test(err.message);

/** Loads the library on a server; another instance having loaded it first is success. */
async function loadOn(node: Redis, code: string): Promise<void> {
  await node.function('LOAD', code).catch((err: unknown) => {
    if (!isLoadedAlready(err)) throw err;
  });
}

/** Prepares every script for the client and returns a typed runner; `observe`, when given,
 *  hears each run's duration in seconds (for the latency histogram). */
export function registerScripts(client: Redis | Cluster, observe?: (name: ScriptName, seconds: number) => void): ScriptRunner {
  const lib = scriptLibrary();
  // A server that lacks the library (new, restarted, FUNCTION FLUSH, or a master of a
  // cluster that never had it) answers "Function not found": the library is loaded — on
  // every master of a cluster, as the key decides which one runs it — and the call sent
  // once more. Calls that meet it together share one load. A master that cannot take it
  // (down, out of memory) does not hold up the others; if the second call still finds no
  // function, the load's own error (an OOM refusal, a closed connection: a storage
  // failure, R14) is the one passed on.
  let loading: Promise<Error | null> | null = null;
  const load = () =>
    (loading ??= (async () => {
      const nodes = client instanceof Cluster ? client.nodes('master') : [client];
      const failed = (await Promise.allSettled(nodes.map((n) => loadOn(n, lib.code)))).find((r) => r.status === 'rejected');
      return failed ? (failed.reason as Error) : null;
    })().finally(() => (loading = null)));
  return {
    run(name, keys, args) {
      const { fn, numberOfKeys } = lib.scripts.get(name)!;
      if (numberOfKeys !== null && keys.length !== numberOfKeys) {
        // A programming error, caught by every test that calls the script.
        throw new Error(`${name} takes ${numberOfKeys} keys, got ${keys.length}`);
      }
      const fcall = () => command(client, 'fcall', [fn, keys.length, ...keys, ...args]) as Promise<ScriptReply>;
      const call = (): Promise<ScriptReply> =>
        fcall().catch(async (err: unknown) => {
          if (!isMissingFunction(err)) throw err;
          const loadError = await load();
          return fcall().catch((again: unknown) => {
            throw isMissingFunction(again) && loadError ? loadError : again;
          });
        });
      if (!observe) return call();
      const started = performance.now();
      const done = () => observe(name, (performance.now() - started) / 1000);
      const p = call();
      p.then(done, done);
      return p;
    },
  };
}
