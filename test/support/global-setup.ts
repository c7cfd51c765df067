// vitest globalSetup, once per run before any test file starts, three independent things at
// the same time: bundles the web app into dist/web/ (what `npm run build` produces and the
// gateway under test serves), compiles src/ for the entry points tests start as child
// processes (global-build.ts), and starts the run's shared Redis Cluster (global-cluster.ts).
import type { TestProject } from 'vitest/node';
import { buildWeb } from '../../scripts/build-web.mjs';
import { provideBuild } from './global-build.js';
import { provideRedisCluster } from './global-cluster.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [cluster, build, web] = await Promise.allSettled([provideRedisCluster(project), provideBuild(project), buildWeb()]);
  const teardowns = [cluster, build].flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const teardown = async () => {
    for (const t of teardowns) await t();
  };
  const failed = [cluster, build, web].find((r) => r.status === 'rejected');
  if (failed) {
    await teardown();
    throw failed.reason;
  }
  return teardown;
}
