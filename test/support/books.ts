// Books of their own for a test file that uses the stores of src/postgres/ directly (no
// gateway): a database made and opened before its tests, closed and dropped after them.
import { afterAll, beforeAll, expect } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Books } from '../../src/postgres/books.js';
import { uniquePrefix } from './gateway.js';
import { dropTestDatabase, testDatabaseUrl } from './postgres.js';

export function booksPerFile(name: string): { url: string; books: () => Books } {
  const url = testDatabaseUrl(uniquePrefix(name));
  let books: Books;
  beforeAll(async () => {
    books = new Books({ url, createDatabase: true }, createLogger('silent'));
    expect(await books.open()).toBe(true);
  });
  afterAll(async () => {
    await books.close();
    await dropTestDatabase(url);
  });
  return { url, books: () => books };
}
