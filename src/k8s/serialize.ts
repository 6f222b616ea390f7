import { stringify } from 'yaml';
import type { KubeObject } from './objects.js';

const HEAD = ['apiVersion', 'kind', 'metadata'];

/** A deep copy with map keys sorted (apiVersion, kind, metadata first at the top): byte-identical output for equal input. */
export function sortKeys<T>(value: T, top = true): T {
  if (Array.isArray(value)) {
    const items: readonly unknown[] = value;
    return items.map((item) => sortKeys(item, false)) as T;
  }
  if (typeof value !== 'object' || value === null) return value;
  const keys = Object.keys(value).filter((key) => (value as Record<string, unknown>)[key] !== undefined);
  keys.sort((a, b) => {
    const ia = top ? HEAD.indexOf(a) : -1;
    const ib = top ? HEAD.indexOf(b) : -1;
    if (ia >= 0 || ib >= 0) return (ia < 0 ? HEAD.length : ia) - (ib < 0 ? HEAD.length : ib);
    return a < b ? -1 : a > b ? 1 : 0;
  });
  return Object.fromEntries(keys.map((key) => [key, sortKeys((value as Record<string, unknown>)[key], false)])) as T;
}

/** One YAML document, no line wrapping (long PromQL stays on one line). */
export function toYaml(value: unknown): string {
  return stringify(sortKeys(value), { lineWidth: 0, minContentWidth: 0 });
}

/** A multi-document stream, `---` between documents. */
export function toYamlStream(objects: readonly unknown[]): string {
  return objects.map((object) => `---\n${toYaml(object)}`).join('');
}

/** kubectl's List, for `-o json`. */
export function toJsonList(objects: readonly KubeObject[]): string {
  return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects.map((o) => sortKeys(o)) }, null, 2)}\n`;
}
