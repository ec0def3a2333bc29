// The web console's local users: a JSON file created with mode 0600 (it holds password hashes),
// rewritten atomically, and re-read when another process (the `facegate web user` CLI) changed
// it, so a user added or removed while the daemon runs takes effect at the next request.
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { checkPasswordStrength, costOf, DEFAULT_COST, hashPassword, verifyPassword } from './passwords.js';

export const ROLES = ['viewer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const UserName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'user names are 1-64 letters, digits and . _ @ - (starting with a letter or digit)');

const UserRecord = z.strictObject({
  name: UserName,
  role: z.enum(ROLES),
  passwordHash: z.string(),
  createdAt: z.string(),
  /** Sessions opened before this are ended: a password change logs everyone out. */
  passwordChangedAt: z.string(),
});
export type WebUser = z.infer<typeof UserRecord>;

const UsersFile = z.strictObject({ version: z.literal(1), users: z.array(UserRecord) });

export type PublicUser = Omit<WebUser, 'passwordHash'>;

export class UserStoreError extends Error {
  override name = 'UserStoreError';
}

export function validateUserName(raw: string): string {
  const r = UserName.safeParse(raw);
  if (!r.success) throw new UserStoreError(`user name "${raw}": ${r.error.issues[0]!.message}`);
  return r.data;
}

export class UserStore {
  private cache: { ino: number; mtimeMs: number; size: number; users: WebUser[] } | undefined;
  // Verifying an unknown name costs one hash like a known one, so timing does not reveal names.
  private dummyHash: { cost: string; hash: Promise<string> } | undefined;

  constructor(
    readonly path: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  list(): PublicUser[] {
    return this.read().map(({ passwordHash: _h, ...u }) => u);
  }

  get(name: string): WebUser | undefined {
    return this.read().find((u) => u.name === name);
  }

  async add(rawName: string, password: string, role: Role): Promise<PublicUser> {
    const name = validateUserName(rawName);
    checkPasswordStrength(password);
    if (this.get(name)) throw new UserStoreError(`web user "${name}" already exists (facegate web user passwd ${name} changes the password)`);
    const at = this.now().toISOString();
    const user: WebUser = { name, role, passwordHash: await hashPassword(password), createdAt: at, passwordChangedAt: at };
    this.write([...this.read(), user]);
    const { passwordHash: _h, ...pub } = user;
    return pub;
  }

  async setPassword(name: string, password: string): Promise<void> {
    checkPasswordStrength(password);
    const user = this.require(name);
    const passwordHash = await hashPassword(password);
    this.write(this.read().map((u) => (u.name === user.name ? { ...u, passwordHash, passwordChangedAt: this.now().toISOString() } : u)));
  }

  remove(name: string): void {
    const user = this.require(name);
    this.write(this.read().filter((u) => u.name !== user.name));
  }

  /** The user when the password is right, else null (unknown names take as long as wrong passwords). */
  async verify(name: string, password: string): Promise<WebUser | null> {
    const user = this.get(name);
    if (!user) {
      // At the cost the existing users' hashes have, so the time matches theirs.
      const cost = costOf(this.read()[0]?.passwordHash ?? '') ?? DEFAULT_COST;
      const key = JSON.stringify(cost);
      if (this.dummyHash?.cost !== key) this.dummyHash = { cost: key, hash: hashPassword('not a password of anyone', cost) };
      await verifyPassword(password, await this.dummyHash.hash);
      return null;
    }
    return (await verifyPassword(password, user.passwordHash)) ? user : null;
  }

  private require(name: string): WebUser {
    const user = this.get(name);
    if (!user) throw new UserStoreError(`no web user "${name}" (facegate web user list shows them)`);
    return user;
  }

  private read(): WebUser[] {
    if (!existsSync(this.path)) return [];
    const st = statSync(this.path);
    if ((st.mode & 0o077) !== 0) throw new UserStoreError(`${this.path} is open to other users (mode ${(st.mode & 0o777).toString(8)}): chmod 600 ${this.path}`);
    // Writes replace the file by rename, so a new inode means new content even within one mtime tick.
    if (this.cache && this.cache.ino === st.ino && this.cache.mtimeMs === st.mtimeMs && this.cache.size === st.size) return this.cache.users;
    let parsed;
    try {
      parsed = UsersFile.parse(JSON.parse(readFileSync(this.path, 'utf8')));
    } catch (err) {
      throw new UserStoreError(`${this.path}: not a facegate web users file (${(err as Error).message.split('\n')[0]})`);
    }
    this.cache = { ino: st.ino, mtimeMs: st.mtimeMs, size: st.size, users: parsed.users };
    return parsed.users;
  }

  private write(users: WebUser[]): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    // Created 0600 from the first byte: the hashes are never readable by others, not even briefly.
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify({ version: 1, users }, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.path);
    this.cache = undefined;
  }
}
