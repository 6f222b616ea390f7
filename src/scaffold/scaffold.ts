import { cp, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { usageError } from '../errors.js';
import { buildDirAtomically, writeFiles } from '../fs/atomic.js';
import { readArtifact } from '../artifact/manifest.js';
import { validateName } from '../k8s/names.js';
import { renderPlaceholders, targetName } from './render.js';
import { TEMPLATES, TEMPLATE_NAMES, type TemplateName } from './templates.js';
import { SERVER_IMAGES, SERVERS } from '../servers/catalog.js';
import {
  ENGINE_MODEL_DIR,
  modelLimitArgs,
  templateFiles,
  type GeneratedFile,
  type ScaffoldContext,
} from './generators.js';

export interface ScaffoldOptions {
  /** Directory of the new project. */
  dir: string;
  template: string;
  /** Model directory, llmops artifact or Hub id. @default the embedded tiny model */
  model?: string;
  /** Hub revision when `model` is a Hub id. */
  revision?: string;
  /** Service name (DNS-1123 label). @default the directory's name */
  name?: string;
  /** Write into a non-empty directory (existing files are replaced, others and .git kept). */
  force?: boolean;
}

export interface ScaffoldResult {
  dir: string;
  template: TemplateName;
  name: string;
  /** Where the model came from and, when copied, where it is in the project. */
  model: { kind: 'embedded' | 'local' | 'artifact' | 'hub'; source: string; copied: boolean; target: string | null };
  files: string[];
  notes: string[];
}

/** The package root (templates/ and src/engine are shipped with llmops). */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Creates a serving project from a template. Nothing is written until everything is rendered. */
export async function scaffold(options: ScaffoldOptions): Promise<ScaffoldResult> {
  if (!(TEMPLATE_NAMES as readonly string[]).includes(options.template)) {
    throw usageError(
      `unknown template \`${options.template}\`; use one of ${TEMPLATE_NAMES.join(', ')}`,
      'UNKNOWN_TEMPLATE',
      { hint: 'llmops scaffold --list shows them' },
    );
  }
  const template = TEMPLATES[options.template as TemplateName];
  const dir = path.resolve(options.dir);
  const name = validateName(options.name ?? path.basename(dir));

  const existing = await readdir(dir).catch(() => null);
  const nonEmpty = existing !== null && existing.length > 0;
  if (nonEmpty && !options.force) {
    throw usageError(`${options.dir} is not empty`, 'TARGET_NOT_EMPTY', {
      hint: 'pass --force to write into it (existing files with the same names are replaced; .git is kept)',
    });
  }
  if ((await stat(dir).catch(() => null))?.isFile()) throw usageError(`${options.dir} is a file`, 'TARGET_NOT_EMPTY');

  const model = await resolveModelSource(options);
  const context: ScaffoldContext = {
    name,
    template: template.name,
    port: 8000,
    image: `ghcr.io/your-org/${name}:0.1.0`,
    model,
    packageRoot: PACKAGE_ROOT,
  };
  const files: GeneratedFile[] = [];
  const values = placeholderValues(context);
  for (const relative of await listFiles(path.join(PACKAGE_ROOT, 'templates', template.name))) {
    files.push({
      path: targetName(relative),
      content: renderPlaceholders(
        await readFile(path.join(PACKAGE_ROOT, 'templates', template.name, relative), 'utf8'),
        values,
        `templates/${template.name}/${relative}`,
      ),
    });
  }
  for (const relative of template.shared) {
    files.push({
      path: targetName(relative),
      content: renderPlaceholders(
        await readFile(path.join(PACKAGE_ROOT, 'templates', '_shared', relative), 'utf8'),
        values,
        `templates/_shared/${relative}`,
      ),
    });
  }
  if (template.vendorEngine) {
    // The node server runs llmops's own engine, copied in so the project has no dependency on llmops.
    for (const file of (await readdir(path.join(PACKAGE_ROOT, 'src', 'engine')))
      .filter((f) => f.endsWith('.ts'))
      .sort()) {
      files.push({
        path: `src/engine/${file}`,
        content: await readFile(path.join(PACKAGE_ROOT, 'src', 'engine', file), 'utf8'),
      });
    }
    files.push({ path: 'src/errors.ts', content: await readFile(path.join(PACKAGE_ROOT, 'src', 'errors.ts'), 'utf8') });
  }
  for (const file of await templateFiles(context, files)) {
    // A generated file replaces the template's copy of it (node's package.json is that copy, edited as JSON).
    const copy = files.findIndex((f) => f.path === file.path);
    if (copy === -1) files.push(file);
    else files[copy] = file;
  }
  files.push({ path: 'llmops.yaml', content: llmopsYaml(context) });

  // Build everything in a temp dir beside the target, then move it into place: an error leaves no half project.
  // An existing directory keeps what the project does not write (its .git).
  await buildDirAtomically(
    dir,
    async (temp) => {
      await writeFiles(temp, files);
      const modelTarget = template.modelTarget?.(name) ?? { dir: 'model', files: /./ };
      if (model.copied) await copyModel(model.dir!, path.join(temp, modelTarget.dir), modelTarget.files);
    },
    { existing: existing === null ? 'refuse' : 'merge', tag: 'scaffold' },
  );
  const written = [
    ...files.map((f) => f.path),
    ...(model.copied ? [`${(template.modelTarget?.(name) ?? { dir: 'model' }).dir}/`] : []),
  ].sort();
  return {
    dir,
    template: template.name,
    name,
    model: {
      kind: model.kind,
      source: model.source,
      copied: model.copied,
      target: model.copied ? (template.modelTarget?.(name) ?? { dir: 'model' }).dir : null,
    },
    files: written,
    notes: template.note ? [template.note] : [],
  };
}

export type ModelSource = ScaffoldContext['model'];

async function resolveModelSource(options: ScaffoldOptions): Promise<ModelSource> {
  const template = TEMPLATES[options.template as TemplateName];
  if (!options.model) {
    if (template.servesCheckpoints) {
      throw usageError(
        `the ${template.name} template serves a Hugging Face checkpoint, not llmops's embedded ONNX model: pass --model ORG/NAME (and --revision SHA)`,
        'MODEL_REQUIRED',
        {
          hint: `e.g. llmops scaffold svc --template ${template.name} --model Qwen/Qwen2.5-0.5B-Instruct --revision <commit sha>`,
        },
      );
    }
    const { ensureTinyModel } = await import('../model/tiny.js');
    const dir = await ensureTinyModel();
    return {
      kind: 'embedded',
      source: 'llmops/tiny-gpt2 (embedded)',
      dir,
      copied: template.copyModel,
      artifact: null,
      config: await readJson(path.join(dir, 'config.json')),
    };
  }
  const info = await stat(options.model).catch(() => null);
  if (info?.isDirectory()) {
    const dir = path.resolve(options.model);
    const artifact = await readArtifact(dir);
    return {
      kind: artifact ? 'artifact' : 'local',
      source: dir,
      dir,
      copied: template.copyModel,
      artifact,
      config: await readJson(path.join(dir, 'config.json')),
    };
  }
  if (/^[\w.-]+\/[\w.-]+$/.test(options.model)) {
    if (!template.servesCheckpoints) {
      throw usageError(
        `the ${template.name} template serves a local model: ${options.model} is a Hub id`,
        'MODEL_NOT_LOCAL',
        {
          hint: `compile it first (llmops compile --model ${options.model} --backend optimum --out models/x) and pass --model models/x`,
        },
      );
    }
    return {
      kind: 'hub',
      source: options.model,
      dir: null,
      copied: false,
      artifact: null,
      config: null,
      ...(options.revision ? { revision: options.revision } : {}),
    };
  }
  throw usageError(`model ${options.model} is neither a directory nor a Hub id (org/name)`, 'MODEL_NOT_FOUND');
}

async function copyModel(source: string, target: string, files: RegExp): Promise<void> {
  await mkdir(target, { recursive: true });
  for (const entry of await readdir(source, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || (entry.isFile() && !files.test(entry.name))) continue;
    if (entry.isDirectory() && files.source !== '.') continue;
    await cp(path.join(source, entry.name), path.join(target, entry.name), { recursive: true });
  }
}

async function listFiles(root: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(path.join(root, prefix), { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(root, relative)));
    else out.push(relative);
  }
  return out;
}

async function readJson(file: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

function placeholderValues(context: ScaffoldContext): Record<string, string> {
  return {
    name: context.name,
    modelName: context.name,
    port: String(context.port),
    image: context.image,
    template: context.template,
    modelId: context.model.kind === 'hub' ? context.model.source : './model',
    revision: context.model.revision ?? 'main',
    // The pinned upstream image the template's Dockerfile builds on: one table (src/servers/catalog.ts).
    serverImage: context.template === 'node' || context.template === 'fastapi' ? '' : SERVER_IMAGES[context.template],
  };
}

/**
 * The project's llmops.yaml, serialized from an object (never text-templated) and valid for llmops's schema, so
 * `llmops deploy` in the new project works as it is: the image, the storage strategy that puts the model where the
 * server looks, and the API key's Secret by reference.
 */
function llmopsYaml(context: ScaffoldContext): string {
  const template = context.template;
  const hub = context.model.kind === 'hub';
  const model = hub
    ? { id: context.model.source, revision: context.model.revision ?? 'main' }
    : context.model.copied
      ? copiedModelPath(template)
      : context.model.source;
  const engine = template === 'vllm' || template === 'tgi' || template === 'trtllm';
  // Secrets are references to Kubernetes Secrets (created outside llmops), never values.
  const apiKeyEnv =
    template === 'node' || template === 'fastapi' ? 'API_KEYS' : engine ? SERVERS[template].apiKeyEnv : null;
  const secrets = [
    ...(apiKeyEnv
      ? [{ env: apiKeyEnv, name: `${context.name}-api-keys`, key: apiKeyEnv === 'API_KEYS' ? 'api-keys' : 'api-key' }]
      : []),
    ...(hub ? [{ env: 'HF_TOKEN', name: 'hf-token', key: 'token' }] : []),
  ];
  // Hub models: the pinned upstream image downloads the revision itself (storage strategy hub, the default).
  // Local models: the project's Dockerfile bakes them in where the server looks.
  const image = engine && hub ? SERVER_IMAGES[template] : context.image;
  const limits = engine ? modelLimitArgs(template, context.model.config) : [];
  const storage = hub ? undefined : { strategy: 'baked', path: template === 'triton' ? '/models' : ENGINE_MODEL_DIR };
  const config = {
    name: context.name,
    model,
    serve: { image, port: context.port, template, ...(limits.length > 0 ? { extraArgs: limits } : {}) },
    deploy: { ...(storage ? { storage } : {}), secrets },
  };
  const lines = [`# llmops configuration for ${context.name} — see \`llmops config\` for the effective values.`];
  if (!(engine && hub)) {
    const buildArgs = engine ? '--build-arg MODEL_SOURCE=baked ' : '';
    lines.push(
      `# serve.image: build it from this project (docker build ${buildArgs}-t ${context.image} .) and push it where the cluster pulls from.`,
    );
  }
  if (hub && !/^[0-9a-f]{40}$/.test(context.model.revision ?? ''))
    lines.push('# model.revision: pin a commit sha before deploying, so every pod serves the same weights.');
  return `${lines.join('\n')}\n${stringify(config, { lineWidth: 0 })}`;
}

/** Where llmops.yaml finds a copied model, relative to the project (Triton's is a model repository). */
function copiedModelPath(template: TemplateName): string {
  return template === 'triton' ? './model_repository' : './model';
}
