// Expected failures carry an HTTP status and a SCREAMING_SNAKE code; the HTTP edge turns
// them into {"error":{"code","message"}}. Anything else is a bug or an outage.
export class AppError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 503,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string) => new AppError(404, 'NOT_FOUND', `${what} does not exist`);
