// Loops over thousands of sockets in time-boxed slices, yielding to the event loop between
// them, so a broadcast or a heartbeat never stalls the webhooks and authorizations that
// share the process.

/** Longest a slice works before yielding. */
export const SLICE_BUDGET_MS = 2;
/** Check the clock every this many items (reading it is not free either). */
const CLOCK_EVERY = 32;

export function forEachSliced<T>(
  items: readonly T[],
  visit: (item: T) => void,
  hooks: { beforeSlice?: () => void; done?: () => void } = {},
): void {
  let i = 0;
  const step = () => {
    const sliceStart = performance.now();
    hooks.beforeSlice?.();
    while (i < items.length) {
      visit(items[i++]!);
      if (i % CLOCK_EVERY === 0 && performance.now() - sliceStart > SLICE_BUDGET_MS) break;
    }
    if (i < items.length) setImmediate(step);
    else hooks.done?.();
  };
  step();
}
