/**
 * $ per million output tokens at a given hourly price: price ÷ (tokens/s × 3600) × 1e6.
 * Null when there is no price or no throughput to divide by.
 */
export function costPerMillionTokens(pricePerHour: number | null | undefined, tokensPerSecond: number): number | null {
  if (
    pricePerHour === null ||
    pricePerHour === undefined ||
    !(tokensPerSecond > 0) ||
    !Number.isFinite(tokensPerSecond)
  )
    return null;
  const cost = (pricePerHour / (tokensPerSecond * 3600)) * 1e6;
  // Four significant digits: prices are quoted to cents, throughput is measured to a few percent.
  return Number(cost.toPrecision(4));
}
