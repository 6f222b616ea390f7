import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../../errors.js';
import { at, fieldsAt, isFields, listAt, shown } from './fields.js';
import { podsOf, RULES, type Manifest, type Rule } from './rules.js';

export { RULES, type Rule } from './rules.js';

export interface LintFinding {
  rule: string;
  /** The kube-score / Polaris / kube-linter checks the rule mirrors, as `tool:check`. */
  mirrors: string[];
  /** `Kind/namespace/name`. */
  object: string;
  file: string | null;
  message: string;
}

export interface LintOptions {
  /** Rule ids (or mirrored check ids) to skip everywhere. */
  ignore?: readonly string[];
}

export interface LintInput {
  /** A parsed YAML or JSON document; anything but an object with a string `kind` is skipped. */
  object: unknown;
  file?: string | null;
}

/** Own suppression annotation: `llmops.dev/lint-ignore: rule-a,rule-b`. */
export const LLMOPS_IGNORE_ANNOTATION = 'llmops.dev/lint-ignore';

/**
 * Applies every rule to every object. A finding is suppressed by the same annotations the mirrored tools honour, on
 * the object or its pod template: `kube-score/ignore: check,check`, `polaris.fairwinds.com/exempt: "true"` or
 * `polaris.fairwinds.com/<check>-exempt: "true"`, `kube-linter.io/ignore-all` or `ignore-check.kube-linter.io/<check>`,
 * and llmops's own `llmops.dev/lint-ignore: rule,rule`.
 */
export function lintObjects(inputs: readonly LintInput[], options: LintOptions = {}): LintFinding[] {
  const all = inputs.map((input) => input.object).filter(isManifest);
  const ignored = new Set(options.ignore ?? []);
  const findings: LintFinding[] = [];
  for (const { object, file } of inputs) {
    if (!isManifest(object)) continue;
    const annotations = annotationsOf(object);
    for (const rule of RULES) {
      if (ignored.has(rule.id) || mirrorIds(rule).some((id) => ignored.has(id))) continue;
      if (suppressed(rule, annotations)) continue;
      for (const message of rule.check(object, { all })) {
        findings.push({
          rule: rule.id,
          mirrors: mirrorLabels(rule),
          object: refOf(object),
          file: file ?? null,
          message,
        });
      }
    }
  }
  return findings;
}

function isManifest(value: unknown): value is Manifest & { readonly kind: string } {
  return isFields(value) && typeof value.kind === 'string';
}

function refOf(object: Manifest): string {
  const namespace = at(object, 'metadata', 'namespace');
  const ns = typeof namespace === 'string' ? `${namespace}/` : '';
  return `${String(object.kind)}/${ns}${shown(at(object, 'metadata', 'name') ?? '<no name>')}`;
}

function annotationsOf(object: Manifest): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (source: Readonly<Record<string, unknown>> | undefined) => {
    for (const [key, value] of Object.entries(source ?? {})) out[key] = String(value);
  };
  add(fieldsAt(object, 'metadata', 'annotations'));
  for (const pod of podsOf(object)) add(pod.templateAnnotations);
  return out;
}

function mirrorIds(rule: Rule): string[] {
  return [...(rule.mirrors.kubeScore ?? []), ...(rule.mirrors.polaris ?? []), ...(rule.mirrors.kubeLinter ?? [])];
}

function mirrorLabels(rule: Rule): string[] {
  return [
    ...(rule.mirrors.kubeScore ?? []).map((id) => `kube-score:${id}`),
    ...(rule.mirrors.polaris ?? []).map((id) => `polaris:${id}`),
    ...(rule.mirrors.kubeLinter ?? []).map((id) => `kube-linter:${id}`),
  ];
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

function suppressed(rule: Rule, annotations: Record<string, string>): boolean {
  if (list(annotations[LLMOPS_IGNORE_ANNOTATION]).includes(rule.id)) return true;
  const kubeScore = list(annotations['kube-score/ignore']);
  if ((rule.mirrors.kubeScore ?? []).some((id) => kubeScore.includes(id))) return true;
  if (rule.mirrors.polaris?.length) {
    if (annotations['polaris.fairwinds.com/exempt'] === 'true') return true;
    if (rule.mirrors.polaris.some((id) => annotations[`polaris.fairwinds.com/${id}-exempt`] === 'true')) return true;
  }
  if (rule.mirrors.kubeLinter?.length) {
    if ('kube-linter.io/ignore-all' in annotations) return true;
    if (rule.mirrors.kubeLinter.some((id) => `ignore-check.kube-linter.io/${id}` in annotations)) return true;
  }
  return false;
}

/** Reads manifests from files and directories (recursively: *.yaml, *.yml, *.json; multi-document; kind List expanded). */
export async function readManifests(paths: readonly string[]): Promise<LintInput[]> {
  const { parseAllDocuments } = await import('yaml');
  const files: string[] = [];
  for (const p of paths) await collectFiles(p, files);
  const inputs: LintInput[] = [];
  for (const file of files.sort()) {
    const text = await readFile(file, 'utf8');
    for (const doc of parseAllDocuments(text)) {
      if ('errors' in doc && doc.errors.length > 0) {
        throw usageError(`${file}: invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`, 'LINT_INVALID_YAML');
      }
      const value: unknown = doc.toJS();
      // Kustomization files and other non-objects are not manifests to lint.
      if (!isManifest(value) || value.kind === 'Kustomization') continue;
      if (value.kind === 'List' || value.kind.endsWith('List')) {
        for (const item of listAt(value, 'items')) inputs.push({ object: item, file });
      } else inputs.push({ object: value, file });
    }
  }
  return inputs;
}

async function collectFiles(p: string, out: string[]): Promise<void> {
  let info;
  try {
    info = await stat(p);
  } catch {
    throw usageError(`no such file or directory: ${p}`, 'LINT_NOT_FOUND');
  }
  if (info.isDirectory()) {
    for (const entry of (await readdir(p)).sort()) {
      const child = path.join(p, entry);
      if (entry.startsWith('.')) continue;
      const childInfo = await stat(child);
      if (childInfo.isDirectory() || /\.(ya?ml|json)$/.test(entry)) await collectFiles(child, out);
    }
  } else out.push(p);
}
