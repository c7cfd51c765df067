// HTTP below fetch: plain node:http requests with exactly the headers given (fetch would
// manage Origin and friends itself), for CORS tests as a browser would send them; and the
// answer read off a raw keep-alive socket, for tests that must see what a client library
// hides (Connection: close while draining, a 503 on a reused connection).
import { request } from 'node:http';
import type { Socket } from 'node:net';

export function rawRequest(
  url: string,
  method: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves with the response's head and body once Content-Length bytes arrived; rejects
 *  if the socket fails or closes before that. */
export function readResponse(sock: Socket): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buf.subarray(0, end).toString();
      const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      sock.off('data', onData);
      sock.off('error', reject);
      sock.off('close', onClose);
      resolve({ head, body: buf.subarray(end + 4, end + 4 + len).toString() });
    };
    const onClose = () => reject(new Error(`closed before a whole answer: ${buf.toString()}`));
    sock.on('data', onData);
    sock.once('error', reject);
    sock.once('close', onClose);
  });
}
