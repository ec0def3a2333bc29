// A folder of images played as a camera, in name order: the simulated camera for tests and demos.
// Emptying or removing the folder is how a test unplugs the camera; putting the images back plugs
// it in again. Files are read and decoded off the event loop (readFile, imdecodeAsync).
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { cv, type Mat } from '../vision/opencv.js';
import type { FrameReader, OpenResult, ReadResult } from './frame-source.js';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff', '.ppm', '.pgm']);
const DEFAULT_FOLDER_FPS = 10;

// Natural order, so frame2.jpg plays before frame10.jpg; a fixed locale keeps it the same everywhere.
const byName = new Intl.Collator('en', { numeric: true }).compare;

export class ImageFolderReader implements FrameReader {
  readonly live = false;
  private files: string[] = [];
  private index = 0;
  private deliveredSinceOpen = false;

  constructor(
    private readonly path: string,
    private readonly playbackFps: number | undefined,
    private readonly log: (line: string) => void,
  ) {}

  get description(): string {
    return `image folder ${this.path}`;
  }

  async open(): Promise<OpenResult> {
    const listed = await this.list();
    if (!listed.ok) return listed;
    this.files = listed.files;
    this.index = 0;
    this.deliveredSinceOpen = false;
    return { ok: true };
  }

  async read(): Promise<ReadResult> {
    while (this.index < this.files.length) {
      const name = this.files[this.index++]!;
      let bytes: Buffer;
      try {
        bytes = await readFile(join(this.path, name));
      } catch (err) {
        // One image deleted is skipped; the whole folder gone or emptied is a lost camera.
        const listed = await this.list();
        if (!listed.ok) return { kind: 'lost', reason: listed.reason };
        this.log(`${this.description}: skipped ${name} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        continue;
      }
      const mat = await decode(bytes);
      if (!mat) {
        this.log(`${this.description}: skipped ${name} (not a readable image)`);
        continue;
      }
      this.deliveredSinceOpen = true;
      return { kind: 'frame', mat };
    }
    // Without this, a folder of only broken images would loop through them without pause.
    if (!this.deliveredSinceOpen) return { kind: 'lost', reason: 'has no readable images' };
    return { kind: 'end' };
  }

  fps(): number {
    return this.playbackFps ?? DEFAULT_FOLDER_FPS;
  }

  close(): void {
    this.files = [];
    this.index = 0;
  }

  private async list(): Promise<{ ok: true; files: string[] } | { ok: false; reason: string; permanent: boolean }> {
    let names: string[];
    try {
      names = await readdir(this.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { ok: false, permanent: true, reason: 'not found' };
      if (code === 'ENOTDIR') return { ok: false, permanent: true, reason: 'is not a folder: use `type: file` for a video' };
      return { ok: false, permanent: false, reason: `cannot be read (${code})` };
    }
    const files = names.filter((n) => IMAGE_EXTENSIONS.has(extname(n).toLowerCase())).sort(byName);
    if (files.length === 0) return { ok: false, permanent: false, reason: `has no images (${[...IMAGE_EXTENSIONS].join(', ')})` };
    return { ok: true, files };
  }
}

async function decode(bytes: Buffer): Promise<Mat | null> {
  try {
    const bgr = await cv.imdecodeAsync(bytes, cv.IMREAD_COLOR);
    if (bgr.empty) return null;
    const rgb = await bgr.cvtColorAsync(cv.COLOR_BGR2RGB);
    bgr.release();
    return rgb;
  } catch {
    return null;
  }
}
