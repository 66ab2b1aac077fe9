/** What an upload may be, decided from the file's first bytes, never from its name. */

/** The content types the API accepts (`schemas/new-image.json`). */
export type ImageType = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp';

/** The largest upload the signed URL accepts: 10 MiB. */
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

const ascii = (bytes: Uint8Array, at: number, text: string) =>
  [...text].every((char, i) => bytes[at + i] === char.charCodeAt(0));

/** The image type the magic bytes announce, or `null` when they are not one we accept. */
export function sniffImageType(bytes: Uint8Array): ImageType | null {
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.every((byte, i) => bytes[i] === byte)) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (ascii(bytes, 0, 'GIF87a') || ascii(bytes, 0, 'GIF89a')) return 'image/gif';
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WEBP')) return 'image/webp';
  return null;
}

/** A size for people: "950 KB", "11.0 MB". */
export function formatBytes(size: number): string {
  if (size < 1024) return `${size} bytes`;
  if (size < 1024 * 1024) return `${Math.round(size / 1024)} KB`;
  return `${(size / (1024 * 1024)).toFixed(1)} MB`;
}

/** Why `file` cannot be uploaded, or its type: checked before any record is created. */
export async function checkImageFile(file: File): Promise<{ type: ImageType } | { error: string }> {
  if (file.size === 0) {
    return { error: `“${file.name}” is empty.` };
  }
  if (file.size > MAX_UPLOAD_BYTES) {
    return {
      error: `“${file.name}” is ${formatBytes(file.size)}; images can be at most ${formatBytes(MAX_UPLOAD_BYTES)}.`,
    };
  }
  const head = new Uint8Array(await file.slice(0, 16).arrayBuffer());
  const type = sniffImageType(head);
  if (!type) {
    return { error: `“${file.name}” is not a PNG, JPEG, GIF or WebP image.` };
  }
  return { type };
}
