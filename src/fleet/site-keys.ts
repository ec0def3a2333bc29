// The site's keys, the same on every controller of a site:
// - an Ed25519 key pair that signs records. Ed25519 rather than HMAC: a follower needs only the
//   public key, so a stolen follower (a door controller is a device on a wall) cannot forge a
//   record that adds a face; with a shared HMAC key every holder could.
// - a 256-bit data key that encrypts each record's body (AES-256-GCM), so the broker and anyone
//   subscribed without it never see names or embeddings.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivateFile } from '../util/private-file.js';

export interface SiteKeys {
  /** Absent on a follower: it verifies, never signs. */
  signing?: KeyObject;
  verify: KeyObject;
  data: Buffer;
}

function readKeyFile(path: string, what: string, mustBePrivate: boolean): string {
  if (!existsSync(path)) throw new Error(`fleet ${what} ${path} does not exist (facegate fleet keygen DIR makes the site keys)`);
  if (mustBePrivate && (statSync(path).mode & 0o077) !== 0) throw new Error(`fleet ${what} ${path} is readable by others: chmod 600 ${path}`);
  return readFileSync(path, 'utf8');
}

export function loadSiteKeys(files: { signingKeyFile?: string; verifyKeyFile?: string; dataKeyFile: string }): SiteKeys {
  const dataHex = readKeyFile(files.dataKeyFile, 'data key', true).trim();
  if (!/^[0-9a-fA-F]{64}$/.test(dataHex)) throw new Error(`fleet data key ${files.dataKeyFile}: expected 64 hex characters (openssl rand -hex 32)`);
  const signing = files.signingKeyFile ? parsePrivate(readKeyFile(files.signingKeyFile, 'signing key', true), files.signingKeyFile) : undefined;
  const verify = files.verifyKeyFile ? parsePublic(readKeyFile(files.verifyKeyFile, 'verify key', false), files.verifyKeyFile) : createPublicKey(signing!);
  if (signing && files.verifyKeyFile && !createPublicKey(signing).export({ format: 'der', type: 'spki' }).equals(verify.export({ format: 'der', type: 'spki' }))) {
    throw new Error(`fleet keys: ${files.verifyKeyFile} is not the public key of ${files.signingKeyFile}`);
  }
  return { ...(signing ? { signing } : {}), verify, data: Buffer.from(dataHex, 'hex') };
}

function parsePrivate(pem: string, path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`fleet signing key ${path} is not a PEM private key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`fleet signing key ${path} is ${key.asymmetricKeyType}, not Ed25519`);
  return key;
}

function parsePublic(pem: string, path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new Error(`fleet verify key ${path} is not a PEM public key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`fleet verify key ${path} is ${key.asymmetricKeyType}, not Ed25519`);
  return key;
}

/** A fresh set of site keys in memory (tests, the bench). */
export function generateSiteKeys(): Required<SiteKeys> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { signing: privateKey, verify: publicKey, data: randomBytes(32) };
}

/** Writes a new set of site keys into `dir` (refusing to overwrite): copy them to every controller. */
export function writeSiteKeys(dir: string): { signingKeyFile: string; verifyKeyFile: string; dataKeyFile: string } {
  const files = { signingKeyFile: join(dir, 'site-signing.pem'), verifyKeyFile: join(dir, 'site-verify.pem'), dataKeyFile: join(dir, 'site-data.key') };
  for (const f of Object.values(files)) if (existsSync(f)) throw new Error(`${f} exists: the site already has keys (a new set would split the site)`);
  const keys = generateSiteKeys();
  writePrivateFile(files.signingKeyFile, keys.signing.export({ format: 'pem', type: 'pkcs8' }) as string);
  writePrivateFile(files.verifyKeyFile, keys.verify.export({ format: 'pem', type: 'spki' }) as string);
  writePrivateFile(files.dataKeyFile, `${keys.data.toString('hex')}\n`);
  return files;
}
