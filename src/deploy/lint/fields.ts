/**
 * Read access to manifests that arrive as untyped YAML or JSON. Each accessor narrows one value and answers "absent"
 * (undefined, [] or no fields) for a value of the wrong shape, so a rule reads a malformed manifest as one that lacks
 * the field rather than throwing on it.
 */

/** A JSON object: the keys of a manifest or of one of its nested objects. */
export type Fields = Readonly<Record<string, unknown>>;

export function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at a path of keys; undefined where the path leaves the objects. */
export function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isFields(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** The object at a path, or undefined. */
export function fieldsAt(value: unknown, ...path: string[]): Fields | undefined {
  const found = at(value, ...path);
  return isFields(found) ? found : undefined;
}

/** The array at a path; [] when absent or not an array. */
export function listAt(value: unknown, ...path: string[]): readonly unknown[] {
  const found = at(value, ...path);
  return Array.isArray(found) ? found : [];
}

/** The objects in the array at a path (entries of another shape are skipped). */
export function objectsAt(value: unknown, ...path: string[]): Fields[] {
  return listAt(value, ...path).filter(isFields);
}

/** The number at a path, or undefined. */
export function numberAt(value: unknown, ...path: string[]): number | undefined {
  const found = at(value, ...path);
  return typeof found === 'number' ? found : undefined;
}

/** A field's value in a message: a string as it is, anything else as JSON (so an object shows its content). */
export function shown(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined ? 'undefined' : JSON.stringify(value);
}
