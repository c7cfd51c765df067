// Serves the web app (web/, bundled by scripts/build-web.mjs into dist/web/) at /app.
// Hashed assets (/app/assets/<name>-<hash>.<ext>) never change, so browsers keep them a
// year; the HTML pages name the current hashes and are revalidated on every load.
// dist/web/ is found relative to this file: src/http/ (tsx, tests) and dist/http/
// (production) are both two levels below the project root.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { errorBody } from './json.js';
import { PAGE_CSP } from './security-headers.js';

export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url));

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  woff2: 'font/woff2',
};

/** Asset names as the build writes them: no slashes, no dot-dot, one extension we know. */
const ASSET_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.(js|css|map|svg|png|woff2)$/;

// What the pages may load: only this origin (scripts, styles, the API and /v1/ws,
// security-headers.ts); the softphone also talks to Twilio (signalling, call quality
// events, ringtones). A card processor's hosted field (docs/web-app.md) adds its own hosts here.
const BASE_CSP = PAGE_CSP;
const TWILIO = 'https://*.twilio.com wss://*.twilio.com';

/** The softphone's policy; in `npm run demo` it may also reach the demo's fake Twilio (its
 *  HTTP origin and the same host's WebSocket), and nothing else is added anywhere else. */
function phoneCsp(demoTwilioUrl: string | undefined): string {
  const demo = demoTwilioUrl ? ` ${demoTwilioUrl} ${demoTwilioUrl.replace(/^http/, 'ws')}` : '';
  return `${BASE_CSP}; connect-src 'self' ${TWILIO}${demo}; media-src 'self' blob: https://sdk.twilio.com`;
}

/** The app's pages: each path, the file that answers it and its Content-Security-Policy. */
const PAGES: Record<string, { file: string; csp: string }> = {
  '/app': { file: 'index.html', csp: BASE_CSP },
  '/app/': { file: 'index.html', csp: BASE_CSP },
  // The app's other screens: deep links and reloads land on the same screen.
  '/app/usage': { file: 'index.html', csp: BASE_CSP },
  '/app/billing': { file: 'index.html', csp: BASE_CSP },
  '/app/phone': { file: 'phone.html', csp: phoneCsp(undefined) },
};

export interface StaticOptions {
  /** Folder with index.html, phone.html and assets/ (default: dist/web of this checkout). */
  dir?: string;
  /** What the app may know about the gateway: dev mode offers a test card. */
  devMode: boolean;
  /** The prices the app shows before a quote (the quote stays the price that is charged). */
  prices?: AppPrices;
  /** `npm run demo` only: the origin (http://host:port) of its fake Twilio, which the
   *  softphone dials through; said in /app/config.json and allowed by the phone's CSP. */
  demoTwilioUrl?: string;
}

export interface AppPrices {
  bundleMinutes: number;
  bundlePriceCents: number;
  overagePriceCentsPerMinute: number;
  currency: string;
}

export function staticRoutes(opts: StaticOptions) {
  const dir = opts.dir ?? DEFAULT_WEB_DIR;
  const app = new Hono();

  const demoTwilioUrl = opts.demoTwilioUrl ? new URL(opts.demoTwilioUrl).origin : undefined;
  const config = {
    devMode: opts.devMode,
    ...(opts.prices ? { prices: opts.prices } : {}),
    ...(demoTwilioUrl ? { demoTwilio: demoTwilioUrl } : {}),
  };
  app.get('/app/config.json', (c) => c.json(config, 200, { 'cache-control': 'no-cache' }));

  app.get('/app/assets/:name', async (c) => {
    const name = c.req.param('name');
    const m = ASSET_NAME.exec(name);
    if (!m || name.includes('..')) return c.json(errorBody('NOT_FOUND', `no asset named ${name}`), 404);
    const headers: Record<string, string> = {
      'content-type': TYPES[m[1]!]!,
      'cache-control': 'public, max-age=31536000, immutable',
      vary: 'accept-encoding',
    };
    // The build leaves .br and .gz copies of scripts and styles beside them.
    const accepts = c.req.header('accept-encoding') ?? '';
    for (const [enc, ext] of [['br', '.br'], ['gzip', '.gz']] as const) {
      if (!new RegExp(`\\b${enc}\\b`).test(accepts)) continue;
      const packed = await readFile(join(dir, 'assets', name + ext)).catch(() => null);
      if (packed) return c.body(packed, 200, { ...headers, 'content-encoding': enc });
    }
    const body = await readFile(join(dir, 'assets', name)).catch(() => null);
    if (!body) return c.json(errorBody('NOT_FOUND', `no asset named ${name}`), 404);
    return c.body(body, 200, headers);
  });

  for (const [path, page] of Object.entries(PAGES)) {
    const { file } = page;
    const csp = file === 'phone.html' ? phoneCsp(demoTwilioUrl) : page.csp;
    app.get(path, async (c) => {
      const html = await readFile(join(dir, file), 'utf8').catch(() => null);
      if (html === null) {
        return c.json(errorBody('NOT_BUILT', 'the web app is not built: run `npm run build` (it bundles web/ into dist/web/)'), 503);
      }
      return c.html(html, 200, { 'cache-control': 'no-cache', 'content-security-policy': csp });
    });
  }
  return app;
}
