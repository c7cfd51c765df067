// vitest globalSetup of the browser project, once per run before its files start: unpacks
// the headless Chromium of @sparticuz/chromium into /tmp, so browser test files running
// in parallel never unpack it at the same time.
import chromium from '@sparticuz/chromium';

export default async function setup(): Promise<void> {
  await chromium.executablePath();
}
