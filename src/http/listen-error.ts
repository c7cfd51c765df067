// Why the HTTP listener could not be opened, in words an operator acts on. main() prints
// it as its one start-up line (no stack: nothing in the code is wrong).

/** The listener could not be opened: the port taken, or not ours to take. */
export class ListenError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
    cause: NodeJS.ErrnoException,
  ) {
    const why =
      cause.code === 'EADDRINUSE'
        ? 'is already in use: stop what listens there, or set PORT to another port'
        : cause.code === 'EACCES'
          ? 'may not be opened by this user (ports below 1024 need privileges): set PORT to a higher port'
          : cause.code === 'EADDRNOTAVAIL'
            ? 'names an address this machine does not have: check HOST'
            : `cannot be opened (${cause.code ?? cause.message})`;
    super(`port ${port} on ${host} ${why}`);
    this.name = 'ListenError';
  }
}
