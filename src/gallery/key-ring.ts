// Encryption at rest of templates, negatives and crops: AES-256-GCM under a key file. The file
// holds one key per line (64 hex characters, `openssl rand -hex 32` makes one); the first encrypts,
// every line decrypts, so a rotation can keep the old key until every row is re-encrypted. Each row
// stores the id of its key, and the row's identity is bound in as associated data: a blob copied
// into another row does not decrypt.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { writePrivateFile } from '../util/private-file.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export class KeyError extends Error {
  override name = 'KeyError';
}

export interface DataKey {
  id: string;
  key: Buffer;
}

export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('facegate-gallery-key\n').update(key).digest('hex').slice(0, 16);
}

export function seal(key: DataKey, plain: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

export function unseal(key: DataKey, blob: Buffer, aad: string): Buffer {
  if (blob.length < IV_BYTES + TAG_BYTES) throw new KeyError(`encrypted value of ${blob.length} bytes is too short`);
  const decipher = createDecipheriv('aes-256-gcm', key.key, blob.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(blob.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(blob.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    throw new KeyError(`cannot decrypt ${aad.split(':')[0]} with key ${key.id}: the value was altered or belongs to another row`);
  }
}

function parseKeys(text: string, path: string): DataKey[] {
  const keys = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l, i) => {
      if (!/^[0-9a-fA-F]{64}$/.test(l)) throw new KeyError(`key file ${path} line ${i + 1}: expected 64 hex characters (openssl rand -hex 32)`);
      const key = Buffer.from(l, 'hex');
      return { id: keyIdOf(key), key };
    });
  if (keys.length === 0) throw new KeyError(`key file ${path} holds no key`);
  return keys;
}

/** The keys of one gallery; re-reads its file when another process (a rotation) replaced it. */
export class KeyRing {
  private keys: DataKey[];
  private stamp: string;

  private constructor(
    readonly path: string | null,
    keys: DataKey[],
  ) {
    this.keys = keys;
    this.stamp = this.fileStamp();
  }

  /** Opens the key file, creating it (0600, a random key) when absent. */
  static forFile(path: string, log: (message: string) => void = () => undefined): KeyRing {
    if (!existsSync(path)) {
      writePrivateFile(path, `${randomBytes(32).toString('hex')}\n`);
      log(`created gallery key file ${path} (mode 0600): templates are encrypted with it; back it up with the gallery, without it the gallery cannot be read`);
    }
    const mode = statSync(path).mode & 0o077;
    if (mode !== 0) throw new KeyError(`key file ${path} is readable by others (mode ${(statSync(path).mode & 0o777).toString(8)}): chmod 600 ${path}`);
    return new KeyRing(path, parseKeys(readFileSync(path, 'utf8'), path));
  }

  /** A key that lives as long as the process: for in-memory galleries. */
  static ephemeral(): KeyRing {
    const key = randomBytes(32);
    return new KeyRing(null, [{ id: keyIdOf(key), key }]);
  }

  /** The key new rows are encrypted with (read fresh: call it inside the write transaction). */
  current(): DataKey {
    this.refresh();
    return this.keys[0]!;
  }

  byId(id: string): DataKey {
    let key = this.keys.find((k) => k.id === id);
    if (!key && this.refresh()) key = this.keys.find((k) => k.id === id);
    if (!key) throw new KeyError(`no key ${id} in ${this.path ?? 'the in-memory key ring'}: the gallery was encrypted with another key file`);
    return key;
  }

  get ids(): string[] {
    return this.keys.map((k) => k.id);
  }

  /** Replaces the file's keys (atomically: a crash leaves the old or the new file, never half). */
  replace(keys: Buffer[]): void {
    if (this.path) writePrivateFile(this.path, `${keys.map((k) => k.toString('hex')).join('\n')}\n`);
    this.keys = keys.map((key) => ({ id: keyIdOf(key), key }));
    this.stamp = this.fileStamp();
  }

  private fileStamp(): string {
    if (!this.path) return '';
    const s = statSync(this.path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  }

  private refresh(): boolean {
    if (!this.path) return false;
    const stamp = this.fileStamp();
    if (stamp === this.stamp) return false;
    this.keys = parseKeys(readFileSync(this.path, 'utf8'), this.path);
    this.stamp = stamp;
    return true;
  }
}
