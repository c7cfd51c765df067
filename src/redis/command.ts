// One Redis command, sent as ioredis's own methods send it, minus one cost.
//
// ioredis builds every command with `new Command(name, args)`, whose constructor copies the
// arguments with `args.flat()`, and V8's Array.prototype.flat takes ~110 ns per element on
// Node 20: ~2.8 µs for the 25 arguments of the voice webhook's FCALL, more than Redis
// spends parsing them (BENCHMARKS.md, session 24). Our arguments are flat already, so the
// command is made with no arguments and given ours, numbers written as strings (what the
// constructor's stringifyArguments() would have done to them). The rest is ioredis's own path
// (`sendCommand`: the connection's state, timeouts, a Cluster's slot and redirections).
// It holds only for clients without a keyPrefix (the constructor prefixes the keys it is
// given) and without auto-pipelining (which builds its own commands): client.ts sets
// neither.
import { Command, type Cluster, type Redis } from 'ioredis';

export type Arg = string | number;

const NO_ARGS: Arg[] = [];
const UTF8 = { replyEncoding: 'utf8' } as const;

/** `name args…` on `client`; its reply with strings decoded as UTF-8, as `client.call`
 *  would give it. */
export function command(client: Redis | Cluster, name: string, args: Arg[]): Promise<unknown> {
  const cmd = new Command(name, NO_ARGS, UTF8);
  const strings = new Array<string>(args.length);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    strings[i] = typeof a === 'string' ? a : String(a);
  }
  cmd.args = strings;
  return client.sendCommand(cmd) as Promise<unknown>;
}
