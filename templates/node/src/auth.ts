import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * API keys, compared in constant time. Keys are kept only as SHA-256 digests so equal-length buffers can be compared
 * with timingSafeEqual whatever the presented key's length, and the raw keys never sit in memory longer than start-up.
 */
export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: string[]) {
    this.digests = keys.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** The index of the key that matches the Authorization header, or -1. Every stored key is compared. */
  check(authorization: string | undefined): number {
    const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    if (!match) return -1;
    const presented = digest(match[1]!.trim());
    let found = -1;
    this.digests.forEach((stored, index) => {
      if (timingSafeEqual(stored, presented) && found === -1) found = index;
    });
    return found;
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
