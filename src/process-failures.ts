// What the process does with an exception nobody caught or a promise rejection nobody
// handled: one JSON log line with the error and its stack, then exit non-zero at once.
// After either, the process is in a state no code planned for (a half-done request, a
// timer that will never fire, a connection left mid-command), so it does not try to go on
// or to drain: the platform restarts it, and what was in flight is what a crash loses —
// Twilio's signals are retried or reconciled (R15), sockets reconnect elsewhere.
import { inspect } from 'node:util';
import type { Logger } from './log.js';

/** The exit code of a process that died of an error nobody handled (Node's own). */
export const CRASH_EXIT_CODE = 1;

/** Installs the handlers (once per process: main() calls it right after the logger exists). */
export function exitOnUnhandledFailures(log: Logger, exit: (code: number) => never = process.exit): void {
  const die = (what: string) => (failure: unknown) => {
    try {
      // An Error keeps its stack through the logger's serializer; anything else thrown
      // (a string, a plain object) has none to keep, so its printed form is logged.
      if (failure instanceof Error) log.error(`${what}: exiting`, { err: failure });
      else log.error(`${what}: exiting`, { thrown: inspect(failure, { depth: 3, breakLength: Infinity }) });
    } finally {
      exit(CRASH_EXIT_CODE);
    }
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled rejection'));
}
