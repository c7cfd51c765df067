// vitest globalSetup, once per run before any test file starts, two independent things at
// the same time: bundles the web app into dist/web/ (what `npm run build` produces and the
// gateway under test serves), and starts the run's shared Redis Cluster (global-cluster.ts).
import type { TestProject } from 'vitest/node';
import { buildWeb } from '../../scripts/build-web.mjs';
import { provideRedisCluster } from './global-cluster.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [cluster, web] = await Promise.allSettled([provideRedisCluster(project), buildWeb()]);
  if (web.status === 'rejected') {
    if (cluster.status === 'fulfilled') await cluster.value();
    throw web.reason;
  }
  if (cluster.status === 'rejected') throw cluster.reason;
  return cluster.value;
}
