// vitest globalSetup, once per run before any test file starts: bundles the web app into
// dist/web/ (what `npm run build` produces and the gateway under test serves), and unpacks
// the headless Chromium of @sparticuz/chromium into /tmp, so browser test files running
// in parallel never unpack it at the same time.
import chromium from '@sparticuz/chromium';
import { buildWeb } from '../../scripts/build-web.mjs';

export default async function setup(): Promise<void> {
  await buildWeb();
  await chromium.executablePath();
}
