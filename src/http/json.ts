// The REST edge's dialect: JSON bodies validated with zod, errors as
// {"error":{"code","message"}} naming the field, never a 500 for bad input.
import type { Context } from 'hono';
import type { z } from 'zod';
import { AppError } from '../domain/errors.js';

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

export function describeZodError(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`)
    .join('; ');
}

export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'the body must be JSON (Content-Type: application/json)');
  }
  const text = await c.req.text();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new AppError(400, 'INVALID_JSON', 'the body is not valid JSON');
  }
  return parseWith(schema, raw);
}

export function parseWith<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new AppError(400, 'VALIDATION_FAILED', describeZodError(r.error));
  return r.data;
}
