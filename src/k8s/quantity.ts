/** A Kubernetes quantity as the API server parses it (resource.Quantity). */
export const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(\d+(\.\d*)?|\.\d+)))?$/;

const SUFFIX: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity as a number (`500m` → 0.5, `16Gi` → 17179869184). */
export function quantityToNumber(quantity: string): number {
  const match = /^([+-]?\d*\.?\d+)([a-zA-Z]*)$/.exec(quantity);
  if (!match || SUFFIX[match[2]!] === undefined) return Number(quantity);
  return Number(match[1]) * SUFFIX[match[2]!]!;
}

/** A byte count as a quantity: whole GiB as `Gi`, else MiB rounded up. */
export function bytesToQuantity(bytes: number): string {
  const gi = bytes / 2 ** 30;
  return Number.isInteger(gi) ? `${gi}Gi` : `${Math.ceil(bytes / 2 ** 20)}Mi`;
}

/** The sum of byte quantities (`4Gi` + `512Mi` → `4608Mi`). */
export function sumBytes(...quantities: string[]): string {
  return bytesToQuantity(quantities.reduce((total, q) => total + quantityToNumber(q), 0));
}
