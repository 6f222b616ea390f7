import { usageError } from '../../errors.js';
import type { RequestSample, Slo } from './types.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };
const KEYS = { ttft: 'ttftMs', itl: 'itlMs', tps: 'tps', latency: 'latencyMs' } as const;

/** `ttft=500ms,itl=100ms,tps=11,latency=30s` → an Slo. Times take ms/s/m (bare numbers are ms); tps is tokens/s. */
export function parseSlo(value: string): Slo {
  const slo: Slo = {};
  for (const part of value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const match = /^(ttft|itl|tps|latency)\s*=\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(part);
    if (!match)
      throw usageError(
        `Expected SLOs such as ttft=500ms,itl=100ms,tps=11,latency=30s, got \`${part}\`.`,
        'INVALID_SLO',
      );
    const [, name, number, unit] = match as unknown as [string, keyof typeof KEYS, string, string | undefined];
    if (name === 'tps' && unit)
      throw usageError(`\`tps\` is tokens per second and takes no unit, got \`${part}\`.`, 'INVALID_SLO');
    slo[KEYS[name]] = name === 'tps' ? Number(number) : Number(number) * UNITS[unit ?? 'ms']!;
  }
  if (Object.keys(slo).length === 0) throw usageError('Expected at least one SLO, e.g. ttft=500ms.', 'INVALID_SLO');
  return slo;
}

/** Mean gap between output tokens after the first, and output tokens per second after the first (DESIGN.md). */
export function requestRates(sample: RequestSample): { meanItlMs: number | null; tps: number | null } {
  if (sample.ttftMs === null || sample.outputTokens < 2) return { meanItlMs: null, tps: null };
  const lastTokenMs = sample.ttftMs + sample.itlGapsMs.reduce((sum, gap) => sum + gap, 0);
  const decodeMs = lastTokenMs - sample.ttftMs;
  if (decodeMs <= 0) return { meanItlMs: 0, tps: null };
  return { meanItlMs: decodeMs / (sample.outputTokens - 1), tps: ((sample.outputTokens - 1) * 1000) / decodeMs };
}

/** Whether a request met every SLO given; a failed request meets none. A rate that cannot be computed (one token) passes. */
export function meetsSlo(sample: RequestSample, slo: Slo): boolean {
  if (!sample.ok) return false;
  if (slo.ttftMs !== undefined && (sample.ttftMs === null || sample.ttftMs > slo.ttftMs)) return false;
  if (slo.latencyMs !== undefined && sample.endMs - sample.startMs > slo.latencyMs) return false;
  if (slo.itlMs !== undefined || slo.tps !== undefined) {
    const { meanItlMs, tps } = requestRates(sample);
    if (slo.itlMs !== undefined && meanItlMs !== null && meanItlMs > slo.itlMs) return false;
    if (slo.tps !== undefined && tps !== null && tps < slo.tps) return false;
  }
  return true;
}

/** `TTFT ≤ 500 ms, TPS ≥ 11 tok/s`, and with the attainment `…; met when ≥ 90% of requests meet it`. */
export function describeSlo(slo: Slo, attainment?: number): string {
  const n = (value: number) => value.toLocaleString('en-US');
  const parts: string[] = [];
  if (slo.ttftMs !== undefined) parts.push(`TTFT ≤ ${n(slo.ttftMs)} ms`);
  if (slo.itlMs !== undefined) parts.push(`ITL ≤ ${n(slo.itlMs)} ms`);
  if (slo.tps !== undefined) parts.push(`TPS ≥ ${n(slo.tps)} tok/s`);
  if (slo.latencyMs !== undefined) parts.push(`latency ≤ ${n(slo.latencyMs)} ms`);
  const limits = parts.join(', ') || 'no limits';
  return attainment === undefined
    ? limits
    : `${limits}; met when ≥ ${n(Math.round(attainment * 1000) / 10)}% of requests meet it`;
}
