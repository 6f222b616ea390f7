import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { objectRef, type KubeObject } from '../objects.js';
import { QUANTITY } from '../quantity.js';
import type { SchemaSet } from './schemas.js';

export {
  loadSchemaDir,
  loadBundledSchemas,
  loadCrdDir,
  subsetSchemas,
  withCrds,
  BUNDLED_SCHEMAS,
  REPO_CRDS,
  type SchemaSet,
} from './schemas.js';

export interface SchemaError {
  object: string;
  /** JSON pointer into the object, e.g. `/spec/template/spec/containers/0/resources`. */
  path: string;
  message: string;
}

const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const K8S_ID = 'k8s.json';

/**
 * Strict validation as the API server does it: unknown fields are errors (objects with `properties` are closed unless
 * the schema preserves unknown fields), required fields must be there, int-or-string fields take either, quantities
 * must parse. Custom resources are checked against their CRD's openAPIV3Schema with metadata checked as ObjectMeta.
 */
export class StrictValidator {
  private readonly ajv: Ajv;
  private readonly gvk: Record<string, string>;
  private readonly crdIds = new Map<string, string>();
  private readonly compiled = new Map<string, ValidateFunction>();

  private constructor(ajv: Ajv, set: SchemaSet) {
    this.ajv = ajv;
    this.gvk = set.gvk;
    const definitions = closeSchema(set.definitions) as Record<string, unknown>;
    definitions['io.k8s.apimachinery.pkg.api.resource.Quantity'] = {
      anyOf: [{ type: 'number' }, { type: 'string', pattern: QUANTITY.source }],
    };
    definitions['io.k8s.apimachinery.pkg.util.intstr.IntOrString'] = {
      anyOf: [{ type: 'integer' }, { type: 'string' }],
    };
    ajv.addSchema({ $id: K8S_ID, definitions });
    for (const crd of set.crds) {
      const id = `crd-${crd.apiVersion.replace(/[^a-z0-9]/gi, '-')}-${crd.kind}.json`;
      const schema = closeSchema(crd.openAPIV3Schema) as { properties?: Record<string, unknown> };
      schema.properties = { ...schema.properties, metadata: { $ref: `${K8S_ID}#/definitions/${OBJECT_META}` } };
      ajv.addSchema({ ...schema, $id: id });
      this.crdIds.set(`${crd.apiVersion} ${crd.kind}`, id);
    }
  }

  static async create(set: SchemaSet): Promise<StrictValidator> {
    const { Ajv } = await import('ajv');
    const int32 = {
      type: 'number' as const,
      validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31,
    };
    const any = { type: 'string' as const, validate: () => true };
    const ajv = new Ajv({
      strict: false,
      allErrors: true,
      unicodeRegExp: false,
      formats: {
        int32,
        int64: { type: 'number', validate: Number.isInteger },
        double: true,
        float: true,
        byte: any,
        'date-time': any,
        'int-or-string': true,
      },
    });
    return new StrictValidator(ajv, set);
  }

  /** Whether a schema exists for the object's apiVersion and kind. */
  knows(object: { apiVersion?: unknown; kind?: unknown }): boolean {
    const key = `${String(object.apiVersion)} ${String(object.kind)}`;
    return this.gvk[key] !== undefined || this.crdIds.has(key);
  }

  validate(object: KubeObject): SchemaError[] {
    const ref = typeof object?.metadata?.name === 'string' ? objectRef(object) : `${String(object?.kind)}/<no name>`;
    const key = `${String(object?.apiVersion)} ${String(object?.kind)}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      const definition = this.gvk[key];
      const crdId = this.crdIds.get(key);
      const schemaRef = definition ? `${K8S_ID}#/definitions/${definition}` : crdId;
      if (!schemaRef)
        return [
          {
            object: ref,
            path: '',
            message: `no schema for apiVersion ${String(object?.apiVersion)} kind ${String(object?.kind)}`,
          },
        ];
      validate = this.ajv.getSchema(schemaRef)!;
      this.compiled.set(key, validate);
    }
    if (validate(object)) return [];
    return dedupe(
      (validate.errors ?? []).map((error) => ({ object: ref, path: error.instancePath, message: describe(error) })),
    );
  }
}

function describe(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties')
    return `unknown field \`${String((error.params as { additionalProperty: string }).additionalProperty)}\``;
  if (error.keyword === 'required')
    return `missing required field \`${String((error.params as { missingProperty: string }).missingProperty)}\``;
  return error.message ?? error.keyword;
}

function dedupe(errors: SchemaError[]): SchemaError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.path} ${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The schema with objects closed and Kubernetes extensions made explicit: `int-or-string` → integer or string,
 * `x-kubernetes-preserve-unknown-fields` keeps an object open, descriptions dropped.
 */
export function closeSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closeSchema);
  if (typeof node !== 'object' || node === null) return node;
  const schema = node as Record<string, unknown>;
  if (schema.format === 'int-or-string' || schema['x-kubernetes-int-or-string'] === true) {
    const text: Record<string, unknown> = { type: 'string' };
    if (typeof schema.pattern === 'string') text.pattern = schema.pattern;
    return { anyOf: [{ type: 'integer' }, text] };
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'description') continue;
    if (key === 'properties' || key === 'definitions' || key === 'patternProperties') {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([name, inner]) => [name, closeSchema(inner)]),
      );
    } else {
      out[key] = closeSchema(value);
    }
  }
  if (
    out.properties !== undefined &&
    out.additionalProperties === undefined &&
    schema['x-kubernetes-preserve-unknown-fields'] !== true
  ) {
    out.additionalProperties = false;
  }
  return out;
}
