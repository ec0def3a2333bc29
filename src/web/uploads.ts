// Enrollment photos from a multipart upload, checked like every other image input before the
// admin service decodes them: JPEG or PNG by content (not by the name or the browser's claim),
// not empty, not over the size limit, not too many. Each refusal names the file and the limit.
import type { FastifyRequest } from 'fastify';
import { HttpError } from './web-app.js';

export type PhotoKind = 'jpeg' | 'png';

/** By the first bytes: what the decoder will see, whatever the file is called. */
export function sniffPhotoKind(bytes: Uint8Array): PhotoKind | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47 && bytes[4] === 0x0d && bytes[5] === 0x0a && bytes[6] === 0x1a && bytes[7] === 0x0a) return 'png';
  return null;
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

export function checkPhoto(source: string, data: Buffer, maxBytes: number): void {
  if (data.length === 0) throw new HttpError(400, `${source}: empty file`);
  if (data.length > maxBytes) throw new HttpError(413, `${source}: ${mib(data.length)} is over the ${mib(maxBytes)} limit per photo (web.uploads.maxBytes)`);
  if (!sniffPhotoKind(data)) throw new HttpError(415, `${source}: not a JPEG or PNG photo`);
}

export async function readPhotoUploads(req: FastifyRequest, limits: { maxBytes: number; maxFiles: number }): Promise<{ source: string; data: Buffer }[]> {
  if (!req.isMultipart()) throw new HttpError(415, 'send the photos as multipart/form-data (form field "photos")');
  const images: { source: string; data: Buffer }[] = [];
  try {
    for await (const part of req.parts()) {
      if (part.type !== 'file') continue;
      const source = (part.filename || `photo ${images.length + 1}`).replace(/[^\p{L}\p{N} ._()-]/gu, '_').slice(0, 100);
      let data: Buffer;
      try {
        data = await part.toBuffer();
      } catch (err) {
        if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw new HttpError(413, `${source}: over the ${mib(limits.maxBytes)} limit per photo (web.uploads.maxBytes)`);
        throw err;
      }
      checkPhoto(source, data, limits.maxBytes);
      images.push({ source, data });
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'FST_FILES_LIMIT') throw new HttpError(413, `at most ${limits.maxFiles} photos per upload (web.uploads.maxFiles)`);
    throw err;
  }
  if (images.length === 0) throw new HttpError(400, 'no photo in the upload: attach JPEG or PNG files in the form field "photos"');
  return images;
}
