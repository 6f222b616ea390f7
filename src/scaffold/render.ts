// `{{ key }}` placeholders; `${{ … }}` (GitHub Actions expressions) is left alone.
const PLACEHOLDER = /(?<!\$)\{\{\s*([A-Za-z][A-Za-z0-9]*)\s*\}\}/g;

/** Replaces `{{ key }}` placeholders; an unknown key is a bug in the template, so it throws naming file and key. */
export function renderPlaceholders(text: string, values: Record<string, string>, file: string): string {
  return text.replace(PLACEHOLDER, (_match, key: string) => {
    const value = values[key];
    if (value === undefined)
      throw new Error(
        `template ${file} uses an unknown placeholder {{ ${key} }} (known: ${Object.keys(values).sort().join(', ')})`,
      );
    return value;
  });
}

/** Template files stored with a leading underscore so npm and git don't treat them as real dotfiles. */
export function targetName(relativePath: string): string {
  return relativePath
    .split('/')
    .map((part) => (part.startsWith('_') ? `.${part.slice(1)}` : part))
    .join('/');
}
