// Instants as the API shows them: stored as ms since the epoch, answered as ISO 8601 (UTC).
export const iso = (ms: number): string => new Date(ms).toISOString();
export const isoOrNull = (ms: number | undefined): string | null => (ms === undefined ? null : iso(ms));
