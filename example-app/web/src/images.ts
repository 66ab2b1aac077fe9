/** Keeping a list of images current as pages and notices arrive. */
import type { Image } from './api';

/** Newest first, as the API lists them (ties broken by id, so the order is stable). */
function newestFirst(a: Image, b: Image): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? 1 : -1;
  return a.imageId < b.imageId ? 1 : -1;
}

/** `current` with every image of `fresh` added or replaced (a ready record beats a pending one). */
export function mergeImages(current: Image[], fresh: Image[]): Image[] {
  const byId = new Map(current.map((image) => [image.imageId, image]));
  for (const image of fresh) {
    const known = byId.get(image.imageId);
    if (!known || known.status !== 'ready' || image.status === 'ready') byId.set(image.imageId, image);
  }
  return [...byId.values()].sort(newestFirst);
}
