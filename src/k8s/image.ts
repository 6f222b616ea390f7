import { usageError } from '../errors.js';

/** A tag other than `latest`, or a digest: the same manifest must always run the same bits. */
export function checkPinned(image: string, where: string): void {
  if (!isPinnedImage(image)) {
    throw usageError(
      `${where} \`${image}\` is not pinned: use a version tag (not latest) or a digest (@sha256:…)`,
      'DEPLOY_IMAGE_NOT_PINNED',
    );
  }
}

export function isPinnedImage(image: string): boolean {
  if (/@sha256:[a-f0-9]{64}$/.test(image)) return true;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  if (colon < 0) return false;
  const tag = lastSegment.slice(colon + 1);
  return tag !== '' && tag !== 'latest';
}
