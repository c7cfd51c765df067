// The version the gateway reports (minutegate_build_info): package.json's, read once.
// package.json sits one level above both src/ (tsx) and dist/ (the built image ships it).
import { readFileSync } from 'node:fs';

let version: string | null = null;

export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}
