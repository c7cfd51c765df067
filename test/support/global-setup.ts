// vitest globalSetup, once per run before any test file starts: bundles the web app into
// dist/web/ (what `npm run build` produces and the gateway under test serves).
import { buildWeb } from '../../scripts/build-web.mjs';

export default async function setup(): Promise<void> {
  await buildWeb();
}
