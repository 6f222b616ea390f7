import { usageError } from '../errors.js';

// `{{ key }}` placeholders; `${{ … }}` (GitHub Actions expressions) is left alone.
const PLACEHOLDER = /(?<!\$)\{\{\s*([A-Za-z][A-Za-z0-9]*)\s*\}\}/g;

/** Replaces `{{ key }}` placeholders; an unknown key is a bug in the template, so it throws naming file and key. */
export function renderPlaceholders(text: string, values: Record<string, string>, file: string): string {
  return text.replace(PLACEHOLDER, (_match, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`template ${file} uses an unknown placeholder {{ ${key} }} (known: ${Object.keys(values).sort().join(', ')})`);
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
  throw usageError(`invalid name \`${name}\`: it must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)`, 'INVALID_NAME', {
    ...(suggestion ? { hint: `try --name ${suggestion}` } : {}),
  });
}
