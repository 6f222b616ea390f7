import path from 'node:path';
import { usageError } from '../../errors.js';
import { scaffold, TEMPLATES, TEMPLATE_NAMES } from '../../scaffold/index.js';
import { renderTable } from '../../ui/table.js';
import type { CommandContext } from '../context.js';
import type { ScaffoldCommandOptions } from './command.js';

export async function runScaffold(
  ctx: CommandContext,
  options: ScaffoldCommandOptions,
  dir: string | undefined,
): Promise<void> {
  if (options.list) {
    const templates = TEMPLATE_NAMES.map((name) => ({ name, description: TEMPLATES[name].description }));
    ctx.output.result({ templates }, () =>
      renderTable(
        ['template', 'what you get'],
        templates.map((t) => [t.name, t.description]),
        { color: ctx.output.options.color },
      ),
    );
    return;
  }
  if (!dir)
    throw usageError('missing the project directory', 'MISSING_ARGUMENT', {
      hint: 'llmops scaffold DIR [--template node]',
    });
  const result = await scaffold({
    dir,
    template: options.template ?? 'node',
    ...(options.model ? { model: options.model } : {}),
    ...(options.revision ? { revision: options.revision } : {}),
    ...(options.name ? { name: options.name } : {}),
    force: Boolean(options.force),
  });
  for (const note of result.notes) ctx.output.warn(note);
  const relative = path.relative(process.cwd(), result.dir).startsWith('..')
    ? result.dir
    : path.relative(process.cwd(), result.dir) || '.';
  const next: Record<string, string[]> = {
    node: [
      `cd ${relative}`,
      'npm install',
      'API_KEYS=change-me npm start',
      `curl -s localhost:8000/v1/completions -H 'authorization: Bearer change-me' -H 'content-type: application/json' -d '{"prompt":"Hello","max_tokens":16}'`,
    ],
    fastapi: [
      `cd ${relative}`,
      'python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt',
      'API_KEYS=change-me uvicorn app.main:app --port 8000',
    ],
    vllm: [`cd ${relative}`, 'docker compose up'],
    tgi: [`cd ${relative}`, 'docker compose up'],
    trtllm: [`cd ${relative}`, 'docker compose up'],
    triton: [`cd ${relative}`, 'docker compose up'],
  };
  ctx.output.result({ ...result, next: next[result.template] }, () =>
    [
      `created ${result.template} project ${result.name} in ${relative} (${result.files.length} files; model: ${result.model.source}${result.model.target ? `, copied to ${result.model.target}/` : ''})`,
      '',
      'next:',
      ...next[result.template]!.map((line) => `  ${line}`),
    ].join('\n'),
  );
}
