// Start-up messages for Redis refusing our credentials or certificate. They name the
// settings to fix (REDIS_PASSWORD / REDIS_USERNAME / REDIS_TLS_CA_FILE) and the user,
// never the password itself.
import type { RedisSettings } from './client.js';

const AUTH_ERROR = /NOAUTH|WRONGPASS|invalid password|invalid username-password|Authentication required|NOPERM/i;

export function isAuthError(err: unknown): err is Error {
  return err instanceof Error && AUTH_ERROR.test(err.message);
}

/** One line saying what to set; `where` already names the (redacted) address. */
export function describeAuthFailure(err: Error, s: RedisSettings, where: string): string {
  const user = s.username ? `REDIS_USERNAME=${s.username}` : 'the default user (REDIS_USERNAME unset)';
  const pw = s.password || passwordInUrl(s.url) ? 'REDIS_PASSWORD is set' : 'REDIS_PASSWORD is unset';
  if (/NOPERM/i.test(err.message)) {
    return `Redis at ${where} accepted ${user} but it lacks permissions the gateway needs (all keys and commands of the key prefix, incl. FCALL, FUNCTION LOAD and SSUBSCRIBE): grant them with ACL SETUSER.`;
  }
  if (/NOAUTH|Authentication required/i.test(err.message)) {
    return `Redis at ${where} requires a password and ${pw}: set REDIS_PASSWORD (and REDIS_USERNAME for an ACL user).`;
  }
  return `Redis at ${where} refused the credentials of ${user} (${pw}): check REDIS_USERNAME and REDIS_PASSWORD.`;
}

/** A certificate the client could not verify: say which setting supplies the CA. */
export function tlsHint(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code) || /certificate/i.test(err.message)
    ? '; set REDIS_TLS_CA_FILE to the CA bundle that signed the Redis certificate'
    : '';
}

function passwordInUrl(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}
