import { usageError } from '../errors.js';
import type { KubeObject } from './objects.js';

/**
 * The API server's name rules, checked before anything is written: a manifest that passes the OpenAPI schemas can
 * still be refused by `kubectl apply` (the schemas carry no name patterns). Sources, Kubernetes v1.30:
 * - k8s.io/apimachinery/pkg/util/validation/validation.go: IsDNS1123Label, IsDNS1123Subdomain, IsDNS1035Label,
 *   IsQualifiedName (label and annotation keys), IsValidLabelValue, IsValidPortName (IANA_SVC_NAME), IsEnvVarName.
 * - k8s.io/apimachinery/pkg/api/validation/objectmeta.go: TotalAnnotationSizeLimitB = 256 KiB (keys + values).
 * - kubernetes/pkg/apis/core/validation: ValidateServiceName = NameIsDNS1035Label, ValidateNamespaceName =
 *   NameIsDNSLabel; ServiceAccount, PVC (ValidatePersistentVolumeName) and Secret names are DNS-1123 subdomains;
 *   container and volume names DNS-1123 labels; Service port names DNS-1123 labels, container port names IANA_SVC_NAME.
 * - apps (Deployment), policy (PodDisruptionBudget), networking (NetworkPolicy), autoscaling (HPA) and CRD objects:
 *   NameIsDNSSubdomain.
 * - batch (Job): a DNS-1123 subdomain, but pkg/registry/batch/job/strategy.go (generateSelector) copies the name into
 *   the pod template's `batch.kubernetes.io/job-name` and `job-name` labels, so it must also be a valid label value (≤ 63).
 */

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** The name part of a qualified name (label key) and a non-empty label value. */
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
/** A container environment variable name (IsEnvVarName, without the RelaxedEnvironmentVariableValidation gate, alpha in 1.30). */
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
export const LABEL_VALUE_MAX = 63;
const DNS1123_LABEL_MAX = 63;
const DNS1123_SUBDOMAIN_MAX = 253;
export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

/** Why a DNS-1123 label is not one, or null. */
export function dns1123LabelError(value: string): string | null {
  if (value.length > DNS1123_LABEL_MAX)
    return `is ${value.length} characters, over the ${DNS1123_LABEL_MAX} of a DNS-1123 label`;
  return DNS1123_LABEL.test(value)
    ? null
    : 'must be a DNS-1123 label (lowercase letters, digits and -, starting and ending with a letter or digit)';
}

export function dns1123SubdomainError(value: string): string | null {
  if (value.length > DNS1123_SUBDOMAIN_MAX)
    return `is ${value.length} characters, over the ${DNS1123_SUBDOMAIN_MAX} of a DNS-1123 subdomain`;
  return DNS1123_SUBDOMAIN.test(value)
    ? null
    : 'must be a DNS-1123 subdomain (lowercase letters, digits, - and ., starting and ending with a letter or digit)';
}

export function dns1035LabelError(value: string): string | null {
  if (value.length > DNS1123_LABEL_MAX)
    return `is ${value.length} characters, over the ${DNS1123_LABEL_MAX} of a DNS-1035 label`;
  if (/^[0-9]/.test(value)) return 'must start with a letter (a DNS-1035 label)';
  return DNS1035_LABEL.test(value)
    ? null
    : 'must be a DNS-1035 label (lowercase letters, digits and -, starting with a letter)';
}

/** A label or annotation key: an optional DNS-1123 subdomain prefix (≤ 253) and `/`, then a name (≤ 63). */
export function labelKeyError(key: string): string | null {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : null;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== null) {
    if (prefix === '') return 'has an empty prefix before /';
    const error = dns1123SubdomainError(prefix);
    if (error) return `prefix ${error}`;
  }
  if (name === '') return 'has an empty name';
  if (name.length > LABEL_VALUE_MAX)
    return `name part is ${name.length} characters, over the ${LABEL_VALUE_MAX} allowed`;
  return QUALIFIED_NAME_PART.test(name)
    ? null
    : 'name part must be letters, digits, -, _ and ., starting and ending with a letter or digit';
}

/** A label value: empty, or ≤ 63 characters of letters, digits, -, _ and ., starting and ending alphanumeric. */
export function labelValueError(value: string): string | null {
  if (value.length > LABEL_VALUE_MAX)
    return `is ${value.length} characters, over the ${LABEL_VALUE_MAX} a label value may have`;
  return value === '' || QUALIFIED_NAME_PART.test(value)
    ? null
    : 'must be letters, digits, -, _ and ., starting and ending with a letter or digit';
}

/** IANA_SVC_NAME (RFC 6335) as IsValidPortName checks it. */
export function portNameError(name: string): string | null {
  if (name.length > 15) return `is ${name.length} characters, over the 15 of a port name`;
  if (!/^[-a-z0-9]+$/.test(name)) return 'must be lowercase letters, digits and -';
  if (!/[a-z]/.test(name)) return 'must contain a letter';
  if (name.includes('--')) return 'must not contain --';
  if (name.startsWith('-') || name.endsWith('-')) return 'must not start or end with -';
  return null;
}

export function envVarNameError(name: string): string | null {
  return ENV_VAR_NAME.test(name) ? null : 'must be letters, digits, _, - and ., not starting with a digit';
}

export interface ApiServerFinding {
  /** `Kind/name`. */
  object: string;
  /** Where in the object, e.g. `metadata.labels["app.kubernetes.io/instance"]`. */
  field: string;
  value: string;
  message: string;
}

/** Kinds whose metadata.name the API server checks as something stricter than a DNS-1123 subdomain. */
const NAME_RULES: Record<string, (name: string) => string | null> = {
  Service: dns1035LabelError,
  Namespace: dns1123LabelError,
  Job: (name) =>
    dns1123SubdomainError(name) ??
    (name.length > LABEL_VALUE_MAX
      ? `is ${name.length} characters: a Job's name becomes its pods' job-name label, at most ${LABEL_VALUE_MAX}`
      : null),
};

type Json = unknown;
type Check = (field: string, value: string, message: string | null) => void;

/** Every API-server name rule over the objects llmops emits. Pure: returns findings, in object order. */
export function checkApiServerRules(objects: readonly KubeObject[]): ApiServerFinding[] {
  const findings: ApiServerFinding[] = [];
  for (const object of objects) {
    const id = `${object.kind}/${object.metadata.name}`;
    const check: Check = (field, value, message) => {
      if (message) findings.push({ object: id, field, value, message });
    };
    const meta = object.metadata as { name: string; namespace?: string };
    check('metadata.name', meta.name, (NAME_RULES[object.kind] ?? dns1123SubdomainError)(meta.name));
    if (meta.namespace !== undefined) check('metadata.namespace', meta.namespace, dns1123LabelError(meta.namespace));
    walk(object, '', check, object.kind);
  }
  return findings;
}

function isRecord(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: Json): [string, string][] | null {
  if (!isRecord(value)) return null;
  const entries = Object.entries(value);
  return entries.every(([, v]) => typeof v === 'string') ? (entries as [string, string][]) : null;
}

const LABEL_MAPS = new Set(['labels', 'matchLabels', 'nodeSelector']);

function walk(value: Json, path: string, check: Check, kind: string): void {
  if (Array.isArray(value)) {
    value.forEach((item, index) => walk(item, `${path}[${index}]`, check, kind));
    return;
  }
  if (!isRecord(value)) return;
  for (const [key, child] of Object.entries(value)) {
    const field = path ? `${path}.${key}` : key;
    const map = stringMap(child);
    if (LABEL_MAPS.has(key) && map) {
      for (const [k, v] of map) {
        check(`${field}[${JSON.stringify(k)}]`, k, labelKeyError(k) && `key ${labelKeyError(k)}`);
        check(`${field}[${JSON.stringify(k)}]`, v, labelValueError(v));
      }
      continue;
    }
    if (key === 'annotations' && map) {
      let size = 0;
      for (const [k, v] of map) {
        // ValidateAnnotations checks the lowercased key as a qualified name.
        check(
          `${field}[${JSON.stringify(k)}]`,
          k,
          labelKeyError(k.toLowerCase()) && `key ${labelKeyError(k.toLowerCase())}`,
        );
        size += k.length + v.length;
      }
      if (size > TOTAL_ANNOTATION_SIZE_LIMIT)
        check(
          field,
          `${size} bytes`,
          `total size ${size} bytes is over the ${TOTAL_ANNOTATION_SIZE_LIMIT} (256 KiB) limit`,
        );
      continue;
    }
    if ((key === 'containers' || key === 'initContainers') && Array.isArray(child)) {
      child.forEach((container, index) => checkContainer(container, `${field}[${index}]`, check));
    }
    if (key === 'volumes' && Array.isArray(child)) {
      child.forEach((volume, index) => {
        if (isRecord(volume) && typeof volume.name === 'string')
          check(`${field}[${index}].name`, volume.name, dns1123LabelError(volume.name));
      });
    }
    if (kind === 'Service' && field === 'spec.ports' && Array.isArray(child)) {
      child.forEach((port, index) => {
        if (isRecord(port) && typeof port.name === 'string')
          check(`${field}[${index}].name`, port.name, dns1123LabelError(port.name));
      });
    }
    walk(child, field, check, kind);
  }
}

function checkContainer(container: Json, field: string, check: Check): void {
  if (!isRecord(container)) return;
  if (typeof container.name === 'string') check(`${field}.name`, container.name, dns1123LabelError(container.name));
  for (const [index, port] of (Array.isArray(container.ports) ? container.ports : []).entries()) {
    if (isRecord(port) && typeof port.name === 'string')
      check(`${field}.ports[${index}].name`, port.name, portNameError(port.name));
  }
  for (const [index, env] of (Array.isArray(container.env) ? container.env : []).entries()) {
    if (isRecord(env) && typeof env.name === 'string')
      check(`${field}.env[${index}].name`, env.name, envVarNameError(env.name));
  }
  for (const [index, mount] of (Array.isArray(container.volumeMounts) ? container.volumeMounts : []).entries()) {
    if (isRecord(mount) && typeof mount.name === 'string')
      check(`${field}.volumeMounts[${index}].name`, mount.name, dns1123LabelError(mount.name));
  }
}

/**
 * The llmops.yaml key that produced a finding's value: the service name when the value contains it, else the keys
 * that feed label maps and namespaces directly.
 */
export function configKeyFor(finding: ApiServerFinding, name: string): string {
  if (finding.field === 'metadata.namespace') return 'deploy.namespace';
  if (/\.nodeSelector\[/.test(finding.field) && !finding.value.includes(name)) return 'deploy.nodeSelector';
  if (/\.env\[\d+\]\.name$/.test(finding.field)) return 'serve.env or deploy.secrets';
  if (/podSelector|namespaceSelector/.test(finding.field) && !finding.value.includes(name)) return 'deploy.allowFrom';
  return 'name';
}

/** One line for a finding: the object, the field, what is wrong and the config key to change (with a bound on `name`). */
export function describeFinding(finding: ApiServerFinding, name: string): string {
  const key = configKeyFor(finding, name);
  let fix = `change \`${key}\``;
  if (key === 'name' && finding.value.includes(name)) {
    const limit =
      /label|job-name/.test(finding.message) || /labels\[|matchLabels\[|nodeSelector\[/.test(finding.field)
        ? LABEL_VALUE_MAX
        : DNS1123_LABEL_MAX;
    const extra = finding.value.length - name.length;
    if (finding.value.length > limit && limit - extra > 0)
      fix = `shorten \`name\` (${name.length} characters) to at most ${limit - extra}`;
    else if (/start with a letter/.test(finding.message)) fix = `start \`name\` with a letter (e.g. \`m${name}\`)`;
  }
  return `${finding.object}: ${finding.field} \`${finding.value}\` ${finding.message}: ${fix}`;
}

/** A DNS-1123 label of at most 63 characters: a project, service or namespace name. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Checks a project/service name is a DNS-1123 label (it names images and Kubernetes objects) and suggests a fix. */
export function validateName(name: string): string {
  if (DNS_LABEL.test(name)) return name;
  const suggestion = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/g, '');
  throw usageError(
    `invalid name \`${name}\`: it must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)`,
    'INVALID_NAME',
    {
      ...(suggestion ? { hint: `try --name ${suggestion}` } : {}),
    },
  );
}
