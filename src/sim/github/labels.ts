/**
 * GitHub's label rule: a job fits a runner when every `runs-on` label is among the runner's labels,
 * compared case-insensitively.
 */
export function labelsFit(jobLabels: readonly string[], runnerLabels: readonly string[]): boolean {
  const have = new Set(runnerLabels.map((l) => l.toLowerCase()));
  return jobLabels.every((l) => have.has(l.toLowerCase()));
}

/* The labels config.sh applies by default; the API reports them as `read-only`, all others `custom`. */
const DEFAULT_LABELS = new Set(['self-hosted', 'linux', 'windows', 'macos', 'x64', 'x86', 'arm', 'arm64']);

export function labelType(name: string): 'read-only' | 'custom' {
  return DEFAULT_LABELS.has(name.toLowerCase()) ? 'read-only' : 'custom';
}

/** The runner's `os` as the API reports it, from its OS label (runners without one report Linux). */
export function osOf(labels: readonly string[]): string {
  const lower = labels.map((l) => l.toLowerCase());
  if (lower.includes('windows')) return 'Windows';
  if (lower.includes('macos')) return 'macOS';
  return 'Linux';
}

/** What config.sh registers when it is given no labels (`--labels` absent): its defaults. */
export const CONFIG_SH_DEFAULT_LABELS = ['self-hosted', 'Linux', 'X64'];
