import { stringify } from 'yaml';

/** llmops.yaml as it applies: its source and the keys the environment set as comments, then the YAML itself. */
export function renderConfig(document: {
  file: string | null;
  fromEnv: Record<string, string>;
  config: unknown;
}): string {
  const source = document.file ? `# from ${document.file}` : '# no llmops.yaml found: defaults';
  const env = Object.entries(document.fromEnv).map(([key, name]) => `# ${key} ← $${name}`);
  return [source, ...env, stringify(document.config, { lineWidth: 0 })].join('\n');
}
