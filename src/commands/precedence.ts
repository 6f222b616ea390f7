/**
 * Flags > environment > llmops.yaml > defaults, for one group of settings. loadConfig has already laid the
 * environment over the file, so a command passes its flags, the config section and its defaults: each key takes the
 * first layer that defines it. `undefined` means "not given" (commander leaves absent flags undefined), never "unset".
 */
export function precedence<T extends object>(...layers: readonly (Partial<T> | undefined)[]): Partial<T> {
  const merged: Partial<T> = {};
  for (const layer of layers)
    for (const [key, value] of Object.entries(layer ?? {}))
      if (value !== undefined && merged[key as keyof T] === undefined) merged[key as keyof T] = value as T[keyof T];
  return merged;
}
