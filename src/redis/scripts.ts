// Loads the Lua scripts (one file per operation, `<name>-<numberOfKeys>.lua`, so the key
// count cannot drift from the caller; `<name>-n.lua` for a script over a batch, whose key
// count is the batch's; shared code in lua/lib/, pulled in by `--!include`) and runs them
// by EVALSHA, falling back to EVAL (which also caches the script) on NOSCRIPT — on a
// standalone server or a cluster, where the keys route the command to their slot.
//
// Not as ioredis custom commands (defineCommand): every pipeline ioredis makes copies each
// defined command onto itself, and auto-pipelining makes one per event-loop turn — with
// 38 scripts, about 8.5 KB and 76 properties per batch on the webhook path.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';

const LUA_DIR = join(dirname(fileURLToPath(import.meta.url)), 'lua');
const LIB_DIR = join(LUA_DIR, 'lib');
/** `--!include <name>` pulls lib/<name>.lua in ahead of the script (once, dependencies first). */
const INCLUDE = /^--!include ([a-z-]+)\s*$/gm;

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
  lua: string;
}

/** The script's text with its includes resolved: each library once, its own includes
 *  first, in the order they are named. */
export function resolveIncludes(source: string, readLib: (name: string) => string = (n) => readFileSync(join(LIB_DIR, `${n}.lua`), 'utf8')): string {
  const done = new Set<string>();
  const parts: string[] = [];
  const visit = (name: string, stack: string[]) => {
    if (done.has(name)) return;
    if (stack.includes(name)) throw new Error(`Lua include cycle: ${[...stack, name].join(' -> ')}`);
    const lib = readLib(name);
    for (const m of lib.matchAll(INCLUDE)) visit(m[1]!, [...stack, name]);
    done.add(name);
    parts.push(`-- ==== lib/${name}.lua ====\n${lib}`);
  };
  for (const m of source.matchAll(INCLUDE)) visit(m[1]!, []);
  return parts.length ? `${parts.join('\n')}\n-- ==== script ====\n${source}` : source;
}

function loadSources(): ScriptSource[] {
  const files = readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua'));
  const out: ScriptSource[] = [];
  for (const name of SCRIPT_NAMES) {
    const file = files.find((f) => new RegExp(`^${name}-(\\d+|n)\\.lua$`).test(f));
    if (!file) throw new Error(`Lua script for ${name} is missing from ${LUA_DIR}`);
    const count = /-(\d+|n)\.lua$/.exec(file)![1]!;
    const numberOfKeys = count === 'n' ? null : Number(count);
    out.push({ name, numberOfKeys, lua: resolveIncludes(readFileSync(join(LUA_DIR, file), 'utf8')) });
  }
  return out;
}

const isNoScript = (err: unknown) => err instanceof Error && err.message.startsWith('NOSCRIPT');

/** Prepares every script for the client and returns a typed runner; `observe`, when given,
 *  hears each run's duration in seconds (for the latency histogram). */
export function registerScripts(client: Redis | Cluster, observe?: (name: ScriptName, seconds: number) => void): ScriptRunner {
  const scripts = new Map<ScriptName, { sha: string; lua: string; numberOfKeys: number | null }>();
  for (const s of loadSources()) {
    scripts.set(s.name, { sha: createHash('sha1').update(s.lua).digest('hex'), lua: s.lua, numberOfKeys: s.numberOfKeys });
  }
  return {
    run(name, keys, args) {
      const s = scripts.get(name)!;
      if (s.numberOfKeys !== null && keys.length !== s.numberOfKeys) {
        // A programming error, caught by every test that calls the script.
        throw new Error(`${name} takes ${s.numberOfKeys} keys, got ${keys.length}`);
      }
      // A server that has not seen the script (new, restarted, or another master of the
      // cluster) answers NOSCRIPT; EVAL runs it and caches it there.
      const call = (): Promise<ScriptReply> =>
        (client.evalsha(s.sha, keys.length, ...keys, ...args) as Promise<ScriptReply>).catch((err: unknown) => {
          if (!isNoScript(err)) throw err;
          return client.eval(s.lua, keys.length, ...keys, ...args) as Promise<ScriptReply>;
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
