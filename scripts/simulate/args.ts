// Command line of `npm run simulate`: flags with values, checked up front with one clear
// line per problem.
export interface SimulateArgs {
  url: string;
  /** The base Twilio would call (what the gateway's PUBLIC_BASE_URL is); default: url. */
  publicBaseUrl: string;
  twilioAuthToken: string;
  adminKey: string;
  account: string | null;
  calls: number;
  concurrency: number;
  /** Calls started per second at most; 0: as fast as the concurrency allows. */
  rate: number;
  seed: number;
  minBillableSeconds: number;
  billingIncrementSeconds: number;
  /** Minutes of a created account's plan. */
  minutes: number;
}

export const USAGE = `usage: npm run simulate -- --url <base> --twilio-auth-token <t> --admin-key <k>
       [--account <id>] [--calls N] [--concurrency C] [--rate R] [--seed S]
       [--public-base-url <base Twilio signs for>] [--minutes M]
       [--min-billable-seconds 30] [--billing-increment-seconds 60]`;

export function parseArgs(argv: string[]): SimulateArgs {
  const flags = new Map<string, string>();
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      problems.push(`unexpected argument ${a}`);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length) flags.set(a.slice(2), argv[++i]!);
    else problems.push(`${a} needs a value`);
  }
  const int = (name: string, dflt: number, min: number, max: number) => {
    const v = flags.get(name);
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) problems.push(`--${name}: a whole number from ${min} to ${max}`);
    return Number(v);
  };
  const need = (name: string) => {
    const v = flags.get(name);
    if (!v) problems.push(`--${name} is required`);
    return v ?? '';
  };
  const url = need('url').replace(/\/+$/, '');
  const out: SimulateArgs = {
    url,
    publicBaseUrl: (flags.get('public-base-url') ?? url).replace(/\/+$/, ''),
    twilioAuthToken: need('twilio-auth-token'),
    adminKey: need('admin-key'),
    account: flags.get('account') ?? null,
    calls: int('calls', 50, 1, 1_000_000),
    concurrency: int('concurrency', 10, 1, 1000),
    rate: int('rate', 0, 0, 100_000),
    seed: int('seed', Date.now() % 2 ** 31, 0, 2 ** 31),
    minBillableSeconds: int('min-billable-seconds', 30, 0, 3600),
    billingIncrementSeconds: int('billing-increment-seconds', 60, 1, 3600),
    minutes: int('minutes', 1000, 0, 10_000_000),
  };
  const known = new Set(['url', 'public-base-url', 'twilio-auth-token', 'admin-key', 'account', 'calls', 'concurrency', 'rate', 'seed',
    'min-billable-seconds', 'billing-increment-seconds', 'minutes']);
  for (const k of flags.keys()) if (!known.has(k)) problems.push(`unknown flag --${k}`);
  for (const k of ['url', 'public-base-url']) {
    const v = k === 'url' ? out.url : out.publicBaseUrl;
    if (v && !/^https?:\/\/[^/]+/.test(v)) problems.push(`--${k}: an http(s) URL`);
  }
  if (problems.length) throw new Error(`${problems.join('\n')}\n${USAGE}`);
  return out;
}
