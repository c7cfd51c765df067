// The logger's promises: JSON lines, errors with their stack, a caller cannot overwrite
// msg or level, child loggers bind fields, and secrets are redacted whatever the caller
// passes.
import { expect, it } from 'vitest';
import { createLogger } from './log.js';

function capture(level: 'debug' | 'info' = 'debug') {
  const lines: string[] = [];
  const log = createLogger(level, (l) => lines.push(l));
  return { log, records: () => lines.map((l) => JSON.parse(l) as Record<string, any>) };
}

it('names a failed Redis command but writes none of its arguments (a Lua script, keys, numbers)', () => {
  const lines: string[] = [];
  const log = createLogger('info', (l) => lines.push(l));
  const err = Object.assign(new Error('OOM command not allowed'), { command: { name: 'eval', args: ['-- lib/pool.lua …', '1', 'mg:{acct}:pool', '+14155550100'] } });
  log.error('signal not recorded', { err });
  const r = JSON.parse(lines[0]!);
  expect(r.err).toMatchObject({ message: 'OOM command not allowed', command: { name: 'eval' } });
  expect(lines[0]).not.toContain('lib/pool.lua');
  expect(lines[0]).not.toContain('+14155550100');
  // The error itself is left as it was.
  expect(err.command.args).toHaveLength(4);
});

it('writes one JSON line per event with level, time and msg, and keeps an error’s stack', () => {
  const { log, records } = capture();
  log.error('it broke', { err: new Error('boom'), callSid: 'CA1' });
  const [r] = records();
  expect(r).toMatchObject({ level: 'error', msg: 'it broke', callSid: 'CA1', err: { type: 'Error', message: 'boom' } });
  expect(r!.err.stack).toMatch(/Error: boom\n\s+at /);
  expect(Date.parse(r!.time)).toBeGreaterThan(0);
});

it('never lets a field overwrite msg or level', () => {
  const { log, records } = capture();
  log.info('the real message', { msg: 'forged', level: 'error', time: 'then' });
  const [r] = records();
  expect(r).toMatchObject({ msg: 'the real message', level: 'info', _msg: 'forged', _level: 'error', _time: 'then' });
});

it('binds fields in child loggers', () => {
  const { log, records } = capture();
  log.child({ requestId: 'rq-1' }).child({ accountId: 'acme' }).warn('hello', { callSid: 'CA9' });
  expect(records()[0]).toMatchObject({ requestId: 'rq-1', accountId: 'acme', callSid: 'CA9', msg: 'hello', level: 'warn' });
});

it('redacts tokens, secrets, passwords and card data, top-level or one level down', () => {
  const { log, records } = capture();
  log.info('leaky', {
    token: 'eyJhbGciOi.secret',
    authorization: 'Bearer admin-key',
    password: 'hunter2',
    processorToken: 'tok_live_1',
    headers: { authorization: 'Bearer x', 'x-twilio-signature': 'sig' },
    config: { staffTokenSecret: 's3', adminApiKey: 'k' },
    card: { number: '4242424242424242', cvc: '123' },
  });
  const line = JSON.stringify(records()[0]);
  for (const secret of ['eyJhbGciOi.secret', 'admin-key', 'hunter2', 'tok_live_1', 'Bearer x', 's3', '"k"', '4242424242424242', '"123"', '"sig"']) {
    expect(line).not.toContain(secret);
  }
  expect(line).toContain('[redacted]');
});

it('drops lines under its level', () => {
  const { log, records } = capture('info');
  log.debug('quiet');
  log.info('loud');
  expect(records().map((r) => r.msg)).toEqual(['loud']);
});
