// A real `ws` client for tests: collects JSON messages and waits for the one it needs.
import WebSocket from 'ws';

export interface TestSocket {
  ws: WebSocket;
  messages: any[];
  send(msg: unknown): void;
  next(match: (m: any) => boolean, timeoutMs?: number): Promise<any>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export function openSocket(url: string, headers: Record<string, string> = {}): Promise<TestSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    const messages: any[] = [];
    const waiters: { match: (m: any) => boolean; resolve: (m: any) => void; from: number }[] = [];
    ws.on('message', (data) => {
      let m: any;
      try {
        m = JSON.parse(data.toString());
      } catch {
        m = { raw: data.toString() };
      }
      messages.push(m);
      for (const w of [...waiters]) {
        if (w.match(m)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
    const closed = new Promise<{ code: number; reason: string }>((res) => ws.on('close', (code, reason) => res({ code, reason: reason.toString() })));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body })));
    });
    ws.on('error', (err) => reject(err));
    ws.on('open', () =>
      resolve({
        ws,
        messages,
        closed,
        send: (msg) => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)),
        next(match, timeoutMs = 5000) {
          const seen = messages.find(match);
          if (seen) {
            messages.splice(messages.indexOf(seen), 1);
            return Promise.resolve(seen);
          }
          return new Promise((res, rej) => {
            const t = setTimeout(() => rej(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages.slice(-5))}`)), timeoutMs);
            waiters.push({
              match,
              from: messages.length,
              resolve: (m) => {
                clearTimeout(t);
                messages.splice(messages.indexOf(m), 1);
                res(m);
              },
            });
          });
        },
        close: () => ws.close(),
      }),
    );
  });
}

export const wsUrl = (httpUrl: string, path = '/v1/ws') => httpUrl.replace(/^http/, 'ws') + path;
