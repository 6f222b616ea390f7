#!/usr/bin/env node
// Regenerates src/servers/contracts/<server>.json: each model server's command-line flags, read from its own
// argument parser's source at the pinned version, plus the hand-kept facts (routes, API key, metrics, caches)
// that deploy relies on, each checked to still appear in the source it was read from.
//
// Usage (plain Node, no dependencies):
//   node scripts/server-contracts/extract.mjs \
//     --vllm   GIT_DIR[@REF]   # vllm-project/vllm git directory; REF defaults to the pinned tag
//     --tgi    GIT_DIR[@REF]   # huggingface/text-generation-inference
//     --triton GIT_DIR[@REF]   # triton-inference-server/server
//     --trtllm DIR_OR_GIT_DIR[@REF]  # NVIDIA/TensorRT-LLM; a plain directory is read as a source tree
//     [--trtllm-commit SHA]    # the commit a plain directory was taken from (recorded, not checked)
//     [--out DIR]              # default: src/servers/contracts
// Each option may instead come from the environment: VLLM_SRC, TGI_SRC, TRITON_SRC, TRTLLM_SRC, TRTLLM_COMMIT.
// Servers not given are left as they are. Files are read with `git show REF:path`, so the work tree is never used.
// See scripts/server-contracts/README.md for the JSON shape.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The pins: the image llmops deploys and the upstream tag that image was built from. */
const PINS = {
  vllm: { name: 'vLLM', image: 'vllm/vllm-openai:v0.11.0', repo: 'vllm-project/vllm', tag: 'v0.11.0' },
  tgi: {
    name: 'TGI',
    image: 'ghcr.io/huggingface/text-generation-inference:3.3.6',
    repo: 'huggingface/text-generation-inference',
    tag: 'v3.3.6',
  },
  trtllm: {
    name: 'TensorRT-LLM',
    image: 'nvcr.io/nvidia/tensorrt-llm/release:1.0.0',
    repo: 'NVIDIA/TensorRT-LLM',
    tag: 'v1.0.0',
  },
  triton: {
    name: 'Triton',
    image: 'nvcr.io/nvidia/tritonserver:25.01-py3',
    repo: 'triton-inference-server/server',
    tag: 'v2.54.0',
  },
};

// ---------------------------------------------------------------- source access

function openSource(spec, tag, commitOverride) {
  const at = spec.lastIndexOf('@');
  const dir = at > 0 ? spec.slice(0, at) : spec;
  const requested = at > 0 ? spec.slice(at + 1) : tag;
  const isGit = existsSync(path.join(dir, 'HEAD')) && existsSync(path.join(dir, 'objects'));
  const isWorkTree = existsSync(path.join(dir, '.git'));
  if (isGit || isWorkTree) {
    const gitDir = isGit ? dir : path.join(dir, '.git');
    const git = (...args) =>
      execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const commit = git('rev-parse', `${requested}^{commit}`).trim();
    return {
      ref: requested,
      commit,
      exact: requested === tag,
      read: (file) => git('show', `${commit}:${file}`),
      list: (dirPath) => git('ls-tree', '--name-only', `${commit}`, `${dirPath}/`).split('\n').filter(Boolean),
    };
  }
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(`${dir}: not a git directory nor a source tree`);
  return {
    ref: null,
    commit: commitOverride ?? null,
    exact: false,
    read: (file) => readFileSync(path.join(dir, file), 'utf8'),
    list: () => [],
  };
}

/** A reader that remembers which files it read, for the JSON's `files`. */
function tracked(source) {
  const files = new Set();
  return {
    ...source,
    files,
    read(file) {
      files.add(file);
      return source.read(file);
    },
  };
}

/** 1-based line of the first occurrence of `needle` in `text`, or throws: hand-kept facts must still be in the source. */
function lineOf(text, needle, where) {
  const index = text.indexOf(needle);
  if (index < 0) throw new Error(`${where}: ${JSON.stringify(needle)} not found; the hand-kept facts need re-reading`);
  return text.slice(0, index).split('\n').length;
}

/** Checks each hand-kept fact's `evidence` ({ file, text }) against the source and records file:line. */
function verify(src, value) {
  if (Array.isArray(value)) return value.map((item) => verify(src, item));
  if (value && typeof value === 'object') {
    const out = {};
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'evidence' && inner && typeof inner === 'object' && 'file' in inner) {
        out.source = inner.unverified
          ? `${inner.file} (${inner.unverified})`
          : `${inner.file}:${lineOf(src.read(inner.file), inner.text, inner.file)}`;
      } else out[key] = verify(src, inner);
    }
    return out;
  }
  return value;
}

// ---------------------------------------------------------------- small parsers

/** The text of a call starting at `open` (index of its '('), to the matching ')', skipping strings. */
function balanced(text, open) {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") {
      const quote = c;
      for (i++; i < text.length && text[i] !== quote; i++) if (text[i] === '\\') i++;
      continue;
    }
    if (c === '#' && text.lastIndexOf('\n', i) > text.lastIndexOf('"', i)) {
      // a Python comment: skip to end of line
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) return text.slice(open + 1, i);
    }
  }
  throw new Error('unbalanced call');
}

/** Every `name(` call's argument text in `text`. */
function calls(text, name) {
  const out = [];
  let from = 0;
  for (;;) {
    const at = text.indexOf(`${name}(`, from);
    if (at < 0) return out;
    out.push(balanced(text, at + name.length));
    from = at + name.length + 1;
  }
}

/** Leading string-literal arguments of a call ("--a", "-b", ...). */
function leadingStrings(args) {
  const out = [];
  const re = /\s*(?:"([^"]*)"|'([^']*)')\s*(?:,|$)/y;
  let m;
  while ((m = re.exec(args))) out.push(m[1] ?? m[2]);
  return out;
}

/** Top-level members of a Python type annotation union (`Optional[X]`, `Union[A, B]`, `A | B`). */
function unionMembers(annotation) {
  let a = annotation.replace(/\s+/g, ' ').trim();
  const wrapped = /^(Optional|Union)\[(.*)\]$/.exec(a);
  if (wrapped) a = wrapped[2];
  const parts = [];
  let depth = 0;
  let current = '';
  for (const c of a) {
    if (c === '[' || c === '(') depth++;
    if (c === ']' || c === ')') depth--;
    if ((c === ',' || c === '|') && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else current += c;
  }
  parts.push(current.trim());
  return parts.flatMap((p) => (/^(Optional|Union)\[/.test(p) ? unionMembers(p) : [p]));
}

/** Fields of a Python dataclass: name → annotation, from `class Name` to the next top-level statement. */
function dataclassFields(text, className) {
  const start = text.search(new RegExp(`^class ${className}\\b.*:\\s*$`, 'm'));
  if (start < 0) return null;
  const rest = text.slice(start);
  const firstLine = rest.indexOf('\n') + 1;
  const bodyEnd = rest.slice(firstLine).search(/^\S/m);
  const body = bodyEnd < 0 ? rest : rest.slice(0, firstLine + bodyEnd);
  const fields = {};
  // A field is `    name: Annotation = default` or `    name: Annotation` at class-body indentation, outside docstrings.
  const lines = body.split('\n');
  let inDoc = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const quotes = (line.match(/"""/g) ?? []).length;
    if (inDoc) {
      if (quotes % 2 === 1) inDoc = false;
      continue;
    }
    if (quotes % 2 === 1) {
      inDoc = true;
      continue;
    }
    const m = /^ {4}([a-z_][a-z0-9_]*):\s*(.*)$/.exec(line);
    if (!m) continue;
    let annotation = m[2];
    // Multi-line annotations: keep reading while brackets are open.
    let depth = (annotation.match(/[[(]/g) ?? []).length - (annotation.match(/[\])]/g) ?? []).length;
    while (depth > 0 && i + 1 < lines.length) {
      i++;
      annotation += ' ' + lines[i].trim();
      depth = (annotation.match(/[[(]/g) ?? []).length - (annotation.match(/[\])]/g) ?? []).length;
    }
    const eq = annotation.search(/\s=\s|\s=$/);
    fields[m[1]] = (eq < 0 ? annotation : annotation.slice(0, eq)).trim();
  }
  return fields;
}

const isBoolAnnotation = (annotation) => unionMembers(annotation).includes('bool');

function addFlag(flags, name, entry) {
  flags[name] = { ...(flags[name] ?? {}), ...entry };
}

// ---------------------------------------------------------------- vLLM

function extractVllm(src) {
  const flags = {};
  const positional = [];
  const configFiles = src
    .list('vllm/config')
    .filter((f) => f.endsWith('.py'))
    .map((f) => (f.includes('/') ? f : `vllm/config/${f}`));
  const classText = (name) => {
    for (const file of ['vllm/entrypoints/openai/cli_args.py', 'vllm/engine/arg_utils.py', ...configFiles]) {
      const text = src.read(file);
      if (new RegExp(`^class ${name}\\b`, 'm').test(text)) return text;
    }
    throw new Error(`vLLM: class ${name} not found`);
  };

  // 1. FrontendArgs: every dataclass field becomes --field-name (cli_args.py: f"--{key.replace('_', '-')}"),
  //    a bool field becomes BooleanOptionalAction (arg_utils._compute_kwargs: contains_type(type_hints, bool)).
  const cliArgs = src.read('vllm/entrypoints/openai/cli_args.py');
  if (!cliArgs.includes(`f"--{key.replace('_', '-')}"`))
    throw new Error('vLLM: FrontendArgs no longer derives flags from field names');
  for (const [field, annotation] of Object.entries(dataclassFields(cliArgs, 'FrontendArgs') ?? {})) {
    const name = `--${field.replaceAll('_', '-')}`;
    const bool = isBoolAnnotation(annotation);
    addFlag(flags, name, { value: !bool, ...(bool ? { negation: `--no-${field.replaceAll('_', '-')}` } : {}) });
  }

  // 2. Explicit add_argument calls: make_arg_parser (cli_args.py) and EngineArgs/AsyncEngineArgs.add_cli_args (arg_utils.py).
  const argUtils = src.read('vllm/engine/arg_utils.py');
  const kwargsClass = Object.fromEntries(
    [...argUtils.matchAll(/(\w+_kwargs)\s*=\s*get_kwargs\((\w+)\)/g)].map((m) => [m[1], m[2]]),
  );
  const fieldCache = new Map();
  const fieldsOf = (cls) => {
    if (!fieldCache.has(cls)) fieldCache.set(cls, dataclassFields(classText(cls), cls) ?? {});
    return fieldCache.get(cls);
  };
  const explicit = [
    ...calls(cliArgs.slice(cliArgs.indexOf('def make_arg_parser')), 'parser.add_argument'),
    ...calls(argUtils.slice(argUtils.indexOf('def add_cli_args')), '.add_argument'),
  ];
  for (const args of explicit) {
    const names = leadingStrings(args);
    if (names.length === 0) continue;
    if (!names[0].startsWith('-')) {
      positional.push({ name: names[0], optional: /nargs\s*=\s*["']\?["']/.test(args) });
      continue;
    }
    const action = /action\s*=\s*(?:argparse\.)?["']?(\w+)["']?/.exec(args)?.[1];
    let bool;
    if (action) bool = ['store_true', 'store_false', 'BooleanOptionalAction'].includes(action);
    else {
      const ref = /\*\*(\w+_kwargs)\[["'](\w+)["']\]/.exec(args);
      if (ref) {
        const cls = kwargsClass[ref[1]];
        if (!cls) throw new Error(`vLLM: ${ref[1]} has no get_kwargs(...) class`);
        const annotation = fieldsOf(cls)[ref[2]];
        if (annotation === undefined) throw new Error(`vLLM: ${cls}.${ref[2]} not found`);
        bool = isBoolAnnotation(annotation) && !/\btype\s*=/.test(args);
      } else bool = false;
    }
    const optional = /BooleanOptionalAction/.test(args) || (bool && action === undefined);
    for (const name of names) {
      addFlag(flags, name, {
        value: !bool,
        ...(optional && name.startsWith('--') ? { negation: `--no-${name.slice(2)}` } : {}),
      });
      if (/deprecated\s*=\s*True/.test(args)) flags[name].deprecated = true;
    }
  }
  for (const name of Object.keys(flags))
    if (flags[name].negation) addFlag(flags, flags[name].negation, { value: false, negates: name });
  for (const name of Object.keys(flags)) delete flags[name].negation;

  // FlexibleArgumentParser: '_' and '-' interchangeable in names (utils/__init__.py parse_args), `--a.b value` for JSON args.
  const utils = src.read('vllm/utils/__init__.py');
  const underscoreDashEquivalent =
    utils.includes('class FlexibleArgumentParser') && utils.includes('return match.group(0).replace("_", "-")');
  const dockerfile = src.read('docker/Dockerfile');
  const openai = dockerfile.slice(dockerfile.indexOf('AS vllm-openai\n'));
  const entrypoint = JSON.parse(/ENTRYPOINT\s+(\[.*\])/.exec(openai)[1]);
  return {
    flags,
    positional,
    entrypoint,
    syntax: {
      underscoreDashEquivalent,
      dottedJsonArgs: utils.includes('--json-arg.key1 value1'),
      allowAbbrev: !/allow_abbrev\s*=\s*False/.test(utils),
      equalsValue: true,
    },
    rules: verify(src, [
      {
        when: { argv0: 'serve' },
        forbid: '--model',
        why: 'with `vllm serve` the model is the positional argument; the parser raises on --model',
        evidence: { file: 'vllm/utils/__init__.py', text: 'you should provide the model as a' },
      },
      {
        when: { entrypoint: 'python3 -m vllm.entrypoints.openai.api_server' },
        note: 'the image entrypoint parses the positional model_tag but only `vllm serve` copies it into --model: give --model',
        evidence: { file: 'vllm/entrypoints/cli/serve.py', text: 'args.model = args.model_tag' },
      },
    ]),
    hand: verify(src, {
      routes: {
        health: {
          path: '/health',
          auth: false,
          evidence: { file: 'vllm/entrypoints/openai/api_server.py', text: '@router.get("/health"' },
        },
        ping: {
          path: '/ping',
          auth: false,
          evidence: { file: 'vllm/entrypoints/openai/api_server.py', text: '@router.get("/ping"' },
        },
        models: {
          path: '/v1/models',
          auth: true,
          evidence: { file: 'vllm/entrypoints/openai/api_server.py', text: '@router.get("/v1/models")' },
        },
        version: {
          path: '/version',
          auth: false,
          evidence: { file: 'vllm/entrypoints/openai/api_server.py', text: '@router.get("/version")' },
        },
        metrics: {
          path: '/metrics',
          auth: false,
          evidence: { file: 'vllm/entrypoints/openai/api_server.py', text: 'Mount("/metrics"' },
        },
      },
      apiKey: {
        flag: '--api-key',
        env: 'VLLM_API_KEY',
        header: 'Authorization: Bearer <key>',
        guardedPrefixes: ['/v1'],
        evidence: {
          file: 'vllm/entrypoints/openai/api_server.py',
          text: 'url_path.startswith("/v1") and not self.verify_token',
        },
        envEvidence: { evidence: { file: 'vllm/envs.py', text: '"VLLM_API_KEY"' } },
      },
      metrics: [
        {
          name: 'vllm:num_requests_waiting',
          type: 'gauge',
          evidence: { file: 'vllm/v1/metrics/loggers.py', text: '"vllm:num_requests_waiting"' },
        },
        {
          name: 'vllm:num_requests_running',
          type: 'gauge',
          evidence: { file: 'vllm/v1/metrics/loggers.py', text: '"vllm:num_requests_running"' },
        },
        {
          name: 'vllm:kv_cache_usage_perc',
          type: 'gauge',
          range: '0..1',
          evidence: { file: 'vllm/v1/metrics/loggers.py', text: '"vllm:kv_cache_usage_perc"' },
        },
      ],
      metricsFormat: 'prometheus',
      caches: {
        VLLM_CACHE_ROOT: {
          default: '$XDG_CACHE_HOME/vllm or ~/.cache/vllm',
          evidence: { file: 'vllm/envs.py', text: '"VLLM_CACHE_ROOT"' },
        },
        VLLM_CONFIG_ROOT: {
          default: '$XDG_CONFIG_HOME/vllm or ~/.config/vllm (usage_stats.json is written here)',
          evidence: { file: 'vllm/envs.py', text: '"VLLM_CONFIG_ROOT"' },
        },
        VLLM_ASSETS_CACHE: {
          default: '$VLLM_CACHE_ROOT/assets',
          evidence: { file: 'vllm/envs.py', text: '"VLLM_ASSETS_CACHE"' },
        },
        VLLM_RPC_BASE_PATH: {
          default: 'tempfile.gettempdir() (/tmp)',
          evidence: { file: 'vllm/envs.py', text: "os.getenv('VLLM_RPC_BASE_PATH'" },
        },
        TORCHINDUCTOR_CACHE_DIR: {
          default: 'set by vLLM under $VLLM_CACHE_ROOT/torch_compile_cache',
          evidence: { file: 'vllm/compilation/compiler_interface.py', text: 'os.environ["TORCHINDUCTOR_CACHE_DIR"]' },
        },
        TRITON_CACHE_DIR: {
          default: 'set by vLLM under $VLLM_CACHE_ROOT/torch_compile_cache',
          evidence: { file: 'vllm/compilation/compiler_interface.py', text: 'os.environ["TRITON_CACHE_DIR"]' },
        },
        HF_HOME: {
          default: '~/.cache/huggingface (the image sets none)',
          evidence: { file: 'docker/Dockerfile', text: 'HF_HUB_ENABLE_HF_TRANSFER' },
        },
      },
    }),
  };
}

// ---------------------------------------------------------------- TGI

function extractTgi(src) {
  const main = src.read('launcher/src/main.rs');
  const start = main.indexOf('struct Args {');
  const body = main.slice(start, main.indexOf('\n}', start));
  const flags = {};
  let attrs = [];
  for (const raw of body.split('\n').slice(1)) {
    const line = raw.trim();
    if (line.startsWith('///') || line === '') continue;
    if (line.startsWith('#[')) {
      attrs.push(line);
      continue;
    }
    const field = /^(?:pub\s+)?([a-z_][a-z0-9_]*):\s*(.+?),?$/.exec(line);
    if (!field) continue;
    const attr = attrs.join(' ');
    attrs = [];
    if (!/\blong\b/.test(attr)) continue;
    const [, name, type] = field;
    const entry = { value: type !== 'bool' };
    if (/\benv\b/.test(attr)) entry.env = /\benv\s*=\s*"([^"]+)"/.exec(attr)?.[1] ?? name.toUpperCase();
    if (/Vec</.test(type)) entry.repeatable = true;
    addFlag(flags, `--${name.replaceAll('_', '-')}`, entry);
    if (/\bshort\b/.test(attr))
      addFlag(flags, `-${/\bshort\s*=\s*'(.)'/.exec(attr)?.[1] ?? name[0]}`, {
        value: entry.value,
        aliasOf: `--${name.replaceAll('_', '-')}`,
      });
  }
  const dockerfile = src.read('Dockerfile');
  const entrypoint = JSON.parse([...dockerfile.matchAll(/^ENTRYPOINT\s+(\[.*\])/gm)].at(-1)[1]);
  const server = 'router/src/server.rs';
  return {
    flags,
    positional: [],
    entrypoint,
    syntax: { underscoreDashEquivalent: false, dottedJsonArgs: false, allowAbbrev: false, equalsValue: true },
    rules: verify(src, [
      {
        when: { entrypoint: '/tgi-entrypoint.sh' },
        note: 'the entrypoint runs `exec text-generation-launcher $@` unquoted: an argument containing spaces is split into words',
        evidence: { file: 'tgi-entrypoint.sh', text: 'exec text-generation-launcher $@' },
      },
    ]),
    hand: verify(src, {
      routes: {
        health: { path: '/health', auth: false, evidence: { file: server, text: '.route("/health", get(health))' } },
        ping: { path: '/ping', auth: false, evidence: { file: server, text: '.route("/ping", get(health))' } },
        info: { path: '/info', auth: false, evidence: { file: server, text: '.route("/info", get(get_model_info))' } },
        models: {
          path: '/v1/models',
          auth: false,
          evidence: { file: server, text: '.route("/v1/models", get(openai_get_model_info))' },
        },
        metrics: {
          path: '/metrics',
          auth: false,
          evidence: { file: server, text: '.route("/metrics", get(metrics))' },
        },
        generate: {
          path: '/generate',
          auth: true,
          evidence: { file: server, text: '.route("/generate", post(generate))' },
        },
        chat: {
          path: '/v1/chat/completions',
          auth: true,
          evidence: { file: server, text: '.route("/v1/chat/completions", post(chat_completions))' },
        },
      },
      metricsPort: {
        flag: '--prometheus-port',
        default: 9000,
        note: 'a second Prometheus listener; /metrics on the API port serves the same registry',
        evidence: { file: server, text: '.with_http_listener(p_addr)' },
      },
      apiKey: {
        flag: '--api-key',
        env: 'API_KEY',
        header: 'Authorization: Bearer <key> (compared case-insensitively)',
        guarded:
          'generation routes only (/, /generate, /generate_stream, /v1/chat/completions, /v1/completions, /vertex, /invocations, /tokenize); /health, /info, /metrics, /v1/models are open',
        evidence: { file: server, text: 'base_routes = base_routes.layer(axum::middleware::from_fn(auth))' },
      },
      metrics: [
        {
          name: 'tgi_queue_size',
          type: 'gauge',
          evidence: { file: 'backends/v3/src/queue.rs', text: 'metrics::gauge!("tgi_queue_size")' },
        },
        {
          name: 'tgi_batch_current_size',
          type: 'gauge',
          evidence: { file: 'backends/v3/src/backend.rs', text: 'metrics::gauge!("tgi_batch_current_size")' },
        },
      ],
      metricsFormat: 'prometheus',
      caches: {
        HF_HOME: { default: '/data (set by the image)', evidence: { file: 'Dockerfile', text: 'ENV HF_HOME=/data' } },
        HUGGINGFACE_HUB_CACHE: {
          default: 'unset: $HF_HOME/hub; also --huggingface-hub-cache',
          evidence: { file: 'launcher/src/main.rs', text: 'huggingface_hub_cache: Option<String>' },
        },
        HF_KERNELS_CACHE: {
          default: '/kernels (set by the image)',
          evidence: { file: 'Dockerfile', text: 'ENV HF_KERNELS_CACHE=/kernels' },
        },
        SHARD_UDS_PATH: {
          default: "/tmp/text-generation-server (the shards' unix sockets: /tmp must be writable)",
          evidence: { file: 'launcher/src/main.rs', text: '"/tmp/text-generation-server"' },
        },
      },
    }),
  };
}

// ---------------------------------------------------------------- TensorRT-LLM

function extractTrtllm(src) {
  const file = 'tensorrt_llm/commands/serve.py';
  const text = src.read(file);
  const start = text.indexOf('@click.command("serve")');
  if (start < 0) throw new Error('TensorRT-LLM: @click.command("serve") not found');
  const block = text.slice(start, text.indexOf('\ndef serve(', start));
  const flags = {};
  const positional = [];
  for (const args of calls(block, '@click.argument'))
    positional.push({ name: leadingStrings(args)[0].toUpperCase(), optional: /required\s*=\s*False/.test(args) });
  for (const args of calls(block, '@click.option')) {
    const names = leadingStrings(args);
    const isFlag = /is_flag\s*=\s*True/.test(args);
    for (const name of names) {
      if (!name.startsWith('-')) continue; // the Python parameter name
      if (name.includes('/')) {
        // click's "--x/--no-x" boolean pair
        const [on, off] = name.split('/').map((s) => s.trim());
        addFlag(flags, on, { value: false });
        addFlag(flags, off, { value: false, negates: on });
      } else
        addFlag(flags, name, { value: !isFlag, ...(/multiple\s*=\s*True/.test(args) ? { repeatable: true } : {}) });
    }
  }
  return {
    flags,
    positional,
    // The release image runs the NGC base image's entrypoint script, which execs its arguments: the command is ours.
    entrypoint: null,
    syntax: { underscoreDashEquivalent: false, dottedJsonArgs: false, allowAbbrev: false, equalsValue: true },
    rules: [],
    hand: verify(src, {
      routes: {
        health: {
          path: '/health',
          auth: false,
          evidence: { file, unverified: 'openai_server.py not read at the pinned tag' },
        },
        metrics: {
          path: '/metrics',
          auth: false,
          format: 'json',
          evidence: {
            file,
            unverified:
              'openai_server.py not read at the pinned tag: /metrics returns iteration stats as JSON, not Prometheus text',
          },
        },
      },
      apiKey: null,
      metrics: [],
      metricsFormat: 'json',
      caches: {
        HF_HOME: { default: '~/.cache/huggingface', evidence: { file, unverified: 'huggingface_hub default' } },
      },
    }),
  };
}

// ---------------------------------------------------------------- Triton

function extractTriton(src) {
  const file = 'src/command_line_parser.cc';
  const text = src.read(file);
  const flags = {};
  for (const m of text.matchAll(/\{\s*OPTION_[A-Z0-9_]+\s*,\s*"([a-z0-9-]+)"\s*,\s*Option::Arg(\w+)/g)) {
    addFlag(flags, `--${m[1]}`, { value: m[2] !== 'None', ...(m[2] === 'Bool' ? { type: 'bool' } : {}) });
  }
  const build = src.read('build.py');
  // The runtime image's Dockerfile is written by build.py's dockerfile_prepare_container_linux.
  const runtime = build.slice(build.indexOf('def dockerfile_prepare_container_linux'));
  const entrypoint = JSON.parse(/ENTRYPOINT\s+(\[.*\])/.exec(runtime)[1]);
  const http = 'src/http_server.cc';
  return {
    flags,
    positional: [],
    entrypoint,
    syntax: { underscoreDashEquivalent: false, dottedJsonArgs: false, allowAbbrev: true, equalsValue: true },
    rules: [],
    hand: verify(src, {
      routes: {
        live: {
          path: '/v2/health/live',
          auth: false,
          evidence: { file: http, text: 'server_regex_(R"(/v2(?:/health/(live|ready))?)")' },
        },
        ready: {
          path: '/v2/health/ready',
          auth: false,
          evidence: { file: http, text: 'server_regex_(R"(/v2(?:/health/(live|ready))?)")' },
        },
        metrics: {
          path: '/metrics',
          port: 8002,
          auth: false,
          evidence: { file, text: 'The port reporting prometheus metrics. Default is 8002.' },
        },
      },
      apiKey: null,
      metrics: [
        {
          name: 'nv_inference_pending_request_count',
          type: 'gauge',
          evidence: { file: 'docs/user_guide/metrics.md', text: 'nv_inference_pending_request_count' },
        },
      ],
      metricsFormat: 'prometheus',
      caches: {},
    }),
  };
}

// ---------------------------------------------------------------- output

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys(value[k])]),
    );
  return value;
}

function build(server, spec, commitOverride) {
  const pin = PINS[server];
  const src = tracked(openSource(spec, pin.tag, commitOverride));
  const extracted = { vllm: extractVllm, tgi: extractTgi, trtllm: extractTrtllm, triton: extractTriton }[server](src);
  const { hand, ...rest } = extracted;
  return sortKeys({
    server,
    name: pin.name,
    version: pin.tag,
    image: pin.image,
    repo: pin.repo,
    tag: pin.tag,
    read: { ref: src.ref, commit: src.commit, exactTag: src.exact },
    files: [...src.files].sort(),
    ...rest,
    ...hand,
  });
}

function parseArgs(argv) {
  const options = {
    vllm: process.env.VLLM_SRC,
    tgi: process.env.TGI_SRC,
    triton: process.env.TRITON_SRC,
    trtllm: process.env.TRTLLM_SRC,
    'trtllm-commit': process.env.TRTLLM_COMMIT,
    out: path.join(ROOT, 'src/servers/contracts'),
  };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i]?.replace(/^--/, '');
    if (!key || !(key in options)) throw new Error(`unknown option ${argv[i]}; see the header of this script`);
    options[key] = argv[++i];
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
mkdirSync(options.out, { recursive: true });
let wrote = 0;
for (const server of Object.keys(PINS)) {
  if (!options[server]) continue;
  const contract = build(server, options[server], server === 'trtllm' ? options['trtllm-commit'] : undefined);
  const target = path.join(options.out, `${server}.json`);
  writeFileSync(target, JSON.stringify(contract, null, 2) + '\n');
  process.stderr.write(
    `${server}: ${Object.keys(contract.flags).length} flags from ${contract.read.commit ?? 'a source tree'} → ${path.relative(ROOT, target)}\n`,
  );
  wrote++;
}
if (wrote === 0) throw new Error('no server given: pass --vllm/--tgi/--triton/--trtllm (see the header)');
