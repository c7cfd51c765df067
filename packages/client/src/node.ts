// @minutegate/client for Node ≥ 20: the `ws` package as the socket (Node 20 has no global
// WebSocket), the token in the Authorization header, and a refused upgrade's HTTP status
// read from the answer itself (`unexpected-response`).
import WebSocket from 'ws';
import { createClientWith, type ClientOptions, type Connector, type MinutegateClient } from './socket.js';

export * from './exports.js';

const nodeConnector: Connector = (url, token, on) => {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  let status: number | undefined;
  let message = '';
  ws.on('unexpected-response', (req, res) => {
    status = res.statusCode;
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (message.length < 1024) message += chunk;
    });
    res.on('end', () => ws.terminate());
    res.on('error', () => ws.terminate());
    void req;
  });
  ws.on('open', () => on.open());
  ws.on('message', (data, isBinary) => {
    if (!isBinary) on.message(data.toString());
  });
  ws.on('error', () => undefined); // 'close' follows and decides
  ws.on('close', (code, reason) => on.ended({ code, reason: status !== undefined ? errorMessage(message) : reason.toString(), status }));
  return {
    send: (text) => ws.send(text),
    close: (code, reason) => (ws.readyState === WebSocket.CONNECTING ? ws.terminate() : ws.close(code, reason)),
  };
};

/** The gateway's error message in a refused upgrade's JSON body, if it has one. */
function errorMessage(body: string): string {
  try {
    return String((JSON.parse(body) as { error?: { message?: unknown } }).error?.message ?? '');
  } catch {
    return '';
  }
}

/** A client of the gateway at `url` (its base URL): see the package's README. */
export function createClient(opts: ClientOptions): MinutegateClient {
  return createClientWith(nodeConnector, opts);
}
