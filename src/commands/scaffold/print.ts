import type { ScaffoldResult, TemplateName } from '../../scaffold/index.js';
import { renderTable } from '../../ui/table.js';

/** `--list`: each template and what a project made from it gets. */
export function renderTemplates(
  templates: readonly { name: string; description: string }[],
  options: { color?: boolean },
): string {
  return renderTable(
    ['template', 'what you get'],
    templates.map((t) => [t.name, t.description]),
    options,
  );
}

/** The commands that take a new project from its directory to a running server. */
export function nextSteps(template: TemplateName, relative: string): string[] {
  const compose = [`cd ${relative}`, 'docker compose up'];
  const steps: Record<TemplateName, string[]> = {
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
    vllm: compose,
    tgi: compose,
    trtllm: compose,
    triton: compose,
  };
  return steps[template];
}

export function renderCreated(result: ScaffoldResult, relative: string, next: readonly string[]): string {
  return [
    `created ${result.template} project ${result.name} in ${relative} (${result.files.length} files; model: ${result.model.source}${result.model.target ? `, copied to ${result.model.target}/` : ''})`,
    '',
    'next:',
    ...next.map((line) => `  ${line}`),
  ].join('\n');
}
