// "PostgreSQL is away", told apart from a bug: reads of the books that may fall back to
// Redis (or answer 503) must not also swallow a broken query. Away means: the books were
// never opened, no connection could be had, or the server ended or refused the one we had.
export class BooksUnavailable extends Error {
  constructor(cause?: unknown) {
    super('the books (PostgreSQL) are unavailable', { cause });
    this.name = 'BooksUnavailable';
  }
}

/** SQLSTATE classes and codes that mean the server, not the query: connection exceptions
 *  (08), operator intervention such as a shutdown (57P01–57P03), too many connections,
 *  a database that does not exist (yet) or does not accept connections now. */
const AWAY_CODES = /^(08...|57P0[1-3]|53300|3D000|55000)$/;
const AWAY_MESSAGES =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Cannot use a pool after calling end/i;

export function isBooksAway(err: unknown): boolean {
  if (err instanceof BooksUnavailable) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && AWAY_CODES.test(code)) return true;
  return AWAY_MESSAGES.test(err.message);
}
