// JSON lines through pino. Callers pass facts as fields and a message; a caller's field can
// never overwrite `msg`, `level` or `time` (they are pino's own), errors keep their stack,
// and child loggers bind what a request or a call is about (`requestId`, `callSid`,
// `accountId`). Secrets never belong in a log line: tokens, keys, card data and
// passwords are redacted by pino's `redact` whatever a caller passes.
import { pino, stdSerializers, type Logger as Pino } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose every line also carries `bindings`. */
  child(bindings: Record<string, unknown>): Logger;
  /** Whether a line at `level` would be written (to skip work for lines that would not). */
  isEnabled(level: 'debug' | 'info' | 'warn' | 'error'): boolean;
}

/** Field names whose values are never written, at any depth the paths name. */
export const REDACTED_FIELDS = [
  'token',
  'authorization',
  'password',
  'secret',
  'adminApiKey',
  'staffTokenSecret',
  'staffTokenPreviousSecrets',
  'authToken',
  'apiKeySecret',
  'processorToken',
  'cardNumber',
  'number',
  'cvc',
];
const REDACT_PATHS = [
  ...REDACTED_FIELDS,
  ...REDACTED_FIELDS.map((f) => `*.${f}`),
  'headers.authorization',
  'headers.cookie',
  'headers["x-twilio-signature"]',
  'req.headers.authorization',
];

/** pino's error serializer, less a failed Redis command's arguments: ioredis hangs the
 *  command on its errors (`command: { name, args }`), whose args are a whole Lua script for
 *  an EVAL, or a call's keys and numbers — kilobytes a line in an outage, and data with no
 *  place in logs. The command's name stays. */
function serializeError(err: Error): Record<string, unknown> {
  const out = stdSerializers.err(err) as unknown as Record<string, unknown>;
  const command = out?.command as { name?: unknown } | undefined;
  if (command && typeof command === 'object') out.command = { name: command.name };
  return out;
}

/** pino's own keys: a caller's field of the same name is kept as `_<name>` instead. */
const RESERVED = new Set(['level', 'time', 'msg']);

function safe(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const k of Object.keys(fields)) {
    if (!RESERVED.has(k)) continue;
    out ??= { ...fields };
    out[`_${k}`] = out[k];
    delete out[k];
  }
  return out ?? fields;
}

function wrap(p: Pino): Logger {
  const at =
    (lvl: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (!p.isLevelEnabled(lvl)) return;
      if (fields) p[lvl](safe(fields), msg);
      else p[lvl](msg);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (bindings) => wrap(p.child(safe(bindings))),
    isEnabled: (level) => p.isLevelEnabled(level),
  };
}

/** A logger at `level`, writing one JSON line per event to `write` (stdout by default). */
export function createLogger(level: LogLevel, write?: (line: string) => void): Logger {
  const destination = write ? { write: (s: string) => write(s) } : pino.destination({ fd: 1, sync: true });
  const p = pino(
    {
      level,
      base: undefined, // no pid/hostname on every line: the platform adds them
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
  return wrap(p);
}
