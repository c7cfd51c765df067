#!/usr/bin/env node
// The bare ceiling of Media Streams ingestion on this stack (BENCHMARKS.md): a `ws` server
// with the gateway's socket options (no compression, 64 KiB frames, no client tracking),
// upgrading every request and counting each text frame that starts `{"event":"media"` — what
// the gateway does with a media frame (twilio/media-streams.ts), and nothing else: no
// signature, no token, no start/stop, no Redis. scripts/bench/ws/media.ts sends it the same
// frames at the same rate as the gateway, in the same run, for the ratio.
//
// Env: PORT. GET /healthz answers 200; GET /count the frames counted so far.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const MEDIA_PREFIX = Buffer.from('{"event":"media"');
let counted = 0;
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, perMessageDeflate: false, clientTracking: false });
const http = createServer((req, res) => {
  if (req.url === '/count') return res.writeHead(200, { 'content-type': 'text/plain' }).end(String(counted));
  res.writeHead(req.url === '/healthz' ? 200 : 404).end();
});
http.on('upgrade', (req, socket, head) =>
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data.length > MEDIA_PREFIX.length && data.compare(MEDIA_PREFIX, 0, MEDIA_PREFIX.length, 0, MEDIA_PREFIX.length) === 0) counted++;
    });
    ws.on('error', () => {});
  }),
);
http.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
