// GET /openapi.json and the documentation page at /docs, served from the swagger-ui-dist
// package on disk (no CDN, nothing fetched at run time). Only the files the page needs
// are served.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Hono } from 'hono';
import { openApiDocument } from '../api/openapi.js';
import { PAGE_CSP } from './security-headers.js';

const require = createRequire(import.meta.url);

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>minutegate API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;
// validatorUrl: null — otherwise the page loads a badge from validator.swagger.io, which
// sends our document's URL to a third party (and the page's CSP refuses it anyway).
const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null });\n`;

const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

export function docsRoutes() {
  const app = new Hono();
  // Only the package's folder: its index also evaluates the 1.5 MB browser bundle in Node,
  // ~40 MB of every instance's resident memory (and start-up CPU) for nothing.
  const dir = (require('swagger-ui-dist/absolute-path.js') as () => string)();
  const files = new Map<string, Buffer>();
  const file = (name: string) => {
    let b = files.get(name);
    if (!b) {
      b = readFileSync(join(dir, name));
      files.set(name, b);
    }
    return b;
  };
  let json: string | null = null;

  app.get('/openapi.json', (c) => {
    json ??= JSON.stringify(openApiDocument());
    return c.body(json, 200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' });
  });
  // The page runs only the two scripts above, from here: it works under the app's policy.
  app.get('/docs', (c) => c.html(PAGE, 200, { 'content-security-policy': PAGE_CSP }));
  app.get('/docs/init.js', (c) => c.body(INIT, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/docs/:file', (c) => {
    const name = c.req.param('file');
    const type = ASSETS[name];
    if (!type) return c.json({ error: { code: 'NOT_FOUND', message: `no such file: ${name.slice(0, 64)}` } }, 404);
    return c.body(new Uint8Array(file(name)), 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
  });
  return app;
}
