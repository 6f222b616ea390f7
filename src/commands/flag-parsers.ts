import { InvalidArgumentError } from 'commander';

/** Argument parsers for commander options: each throws InvalidArgumentError, which commander turns into exit 2. */

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError(`Expected a positive integer, got \`${value}\`.`);
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError(`Expected a non-negative integer, got \`${value}\`.`);
  return n;
}

export function integer(value: string): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError(`Expected an integer, got \`${value}\`.`);
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError(`Expected a non-negative number, got \`${value}\`.`);
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`Expected a positive number, got \`${value}\`.`);
  return n;
}

/** Comma-separated positive numbers: `0.5,2,10`. */
export function positiveNumberList(value: string): number[] {
  const parts = value.split(',').map((part) => part.trim());
  if (parts.length === 0 || parts.some((part) => part === '' || !Number.isFinite(Number(part)) || Number(part) <= 0)) {
    throw new InvalidArgumentError(`Expected comma-separated positive numbers, got \`${value}\`.`);
  }
  return parts.map(Number);
}

/** OpenAI's range for presence and frequency penalties: -2 to 2. */
export function penalty(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < -2 || n > 2)
    throw new InvalidArgumentError(`Expected a number from -2 to 2, got \`${value}\`.`);
  return n;
}

export function probability(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 1)
    throw new InvalidArgumentError(`Expected a number in (0, 1], got \`${value}\`.`);
  return n;
}

/** Comma-separated positive integers: `1,4,16`. */
export function positiveIntList(value: string): number[] {
  const parts = value.split(',').map((part) => part.trim());
  if (parts.some((part) => part === ''))
    throw new InvalidArgumentError(`Expected comma-separated positive integers, got \`${value}\`.`);
  return parts.map((part) => {
    try {
      return positiveInt(part);
    } catch {
      throw new InvalidArgumentError(`Expected comma-separated positive integers, got \`${value}\`.`);
    }
  });
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration such as `500ms`, `30s`, `2m`, `1h`; a bare number is seconds. Returns milliseconds. */
export function duration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`Expected a duration such as 500ms, 30s or 2m, got \`${value}\`.`);
  return Number(match[1]) * DURATION_UNITS[match[2] ?? 's']!;
}

/** A percentage such as `5%` or `5`; returns the fraction (0.05). */
export function percentage(value: string): number {
  const match = /^(\d+(?:\.\d+)?)%?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`Expected a percentage such as 5%, got \`${value}\`.`);
  return Number(match[1]) / 100;
}

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
