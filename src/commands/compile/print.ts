import type { ArtifactManifest } from '../../artifact/manifest.js';
import type { CompileResult } from '../../compile/types.js';
import { formatPlan } from '../../proc/exec.js';

/** What `--dry-run --json` prints: the backend, the steps it would run and where it would write. */
export function planDocument(result: CompileResult): Pick<CompileResult, 'backend' | 'steps' | 'out'> {
  return { backend: result.backend, steps: result.steps, out: result.out };
}

/** `--dry-run`: each external command as a shell line a user can paste, in-process steps as comments. */
export function renderPlan(result: CompileResult): string {
  return [
    `# llmops compile --backend ${result.backend} → ${result.out} (dry run: nothing was run)`,
    ...result.steps.map((step) =>
      step.argv.length
        ? formatPlan({ name: step.name, file: step.argv[0]!, argv: step.argv.slice(1) })
        : `# ${step.name} (in-process)`,
    ),
  ].join('\n');
}

/** The artifact in a few lines: what was compiled with what, its files, tools, hardware and validation. */
export function renderCompiled(manifest: ArtifactManifest, out: string): string {
  const bytes = manifest.files.reduce((sum, file) => sum + file.bytes, 0);
  const validation = manifest.validation as { maxAbsDiff?: number; greedyMatch?: boolean } | null;
  return [
    `compiled ${manifest.source.model} with ${manifest.backend} (${manifest.precision}) → ${out}`,
    `  files: ${manifest.files.length} (${(bytes / 1e6).toFixed(1)} MB), manifest ${out}/llmops.json`,
    `  tools: ${Object.entries(manifest.tools)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `  hardware: ${manifest.hardware.portable ? 'portable' : 'specific to this hardware'} (${manifest.hardware.device}${manifest.hardware.gpu ? `, ${manifest.hardware.gpu.name}` : ''})`,
    `  validation: ${manifest.validation?.passed ? 'passed' : 'FAILED'}${validation?.maxAbsDiff !== undefined ? ` (max |Δlogit| ${validation.maxAbsDiff}, greedy tokens ${validation.greedyMatch ? 'identical' : 'differ'})` : ''}`,
  ].join('\n');
}
