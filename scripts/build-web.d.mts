/** Bundles web/ into outDir (default dist/web) and returns the folder. */
export function buildWeb(outDir?: string): Promise<string>;
