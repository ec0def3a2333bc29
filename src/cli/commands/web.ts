// `facegate web user add|list|remove|passwd`: the web console's local users. Passwords come from
// a prompt without echo (asked twice) or, for scripts, the first line of stdin with
// --password-stdin; they never appear on the command line, where `ps` and shell history see them.
import type { Command } from 'commander';
import { configPathFrom } from '../../app/gallery-context.js';
import { loadConfig } from '../../config/load.js';
import { resolveWebSettings } from '../../web/settings.js';
import { ROLES, UserStore, type Role } from '../../web/user-store.js';
import { CliError, info, printJson } from '../output.js';

function openUsers(configOption: string | undefined): UserStore {
  const loaded = loadConfig(configPathFrom(configOption));
  const c = loaded.config;
  return new UserStore(resolveWebSettings(c.web, loaded.resolvePath, loaded.resolvePath(c.gallery.path)).usersPath);
}

async function readStdinLine(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (!line) throw new CliError('--password-stdin: stdin is empty (pipe the password in, e.g. from a password manager)');
  return line;
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.reject(new CliError('no terminal to ask for the password: use --password-stdin'));
  return new Promise((resolve, reject) => {
    // Echo off before the question: a password typed (or pasted) right after it is never shown.
    stdin.setRawMode(true);
    process.stderr.write(question);
    let value = '';
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (s: string) => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new CliError('cancelled', 130));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function newPassword(fromStdin: boolean | undefined, who: string, stdin: NodeJS.ReadableStream): Promise<string> {
  if (fromStdin) return readStdinLine(stdin);
  const first = await promptHidden(`password for ${who}: `);
  const second = await promptHidden('again: ');
  if (first !== second) throw new CliError('the two passwords differ; nothing changed');
  return first;
}

function parseRole(raw: string): Role {
  if (!(ROLES as readonly string[]).includes(raw)) throw new CliError(`--role ${raw}: use ${ROLES.join(' or ')} (only admins unlock, enroll and delete)`);
  return raw as Role;
}

async function wrap(fn: () => Promise<void> | void): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError((err as Error).message);
  }
}

/** `stdin`: where --password-stdin reads (tests pass a stream). */
export function registerWebCommands(program: Command, stdin: NodeJS.ReadableStream = process.stdin): void {
  const web = program.command('web').description('the web console served by the daemon (web: in the config)');
  const user = web.command('user').description('web console users (stored hashed, file mode 0600, next to the gallery)');

  user
    .command('add')
    .description('create a user; the password is asked twice without echo')
    .argument('<name>', 'user name (letters, digits, . _ @ -)')
    .option('--role <role>', 'viewer (sees everything) or admin (also unlocks, enrolls, deletes)', 'viewer')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('--config <file>', 'config file (default ./facegate.yaml)')
    .action((name: string, o: { role: string; passwordStdin?: boolean; config?: string }) =>
      wrap(async () => {
        const role = parseRole(o.role);
        const users = openUsers(o.config);
        if (users.get(name)) throw new CliError(`web user "${name}" already exists (facegate web user passwd ${name} changes the password)`);
        const created = await users.add(name, await newPassword(o.passwordStdin, name, stdin), role);
        info(`web user ${created.name} (${created.role}) added to ${users.path}`);
      }),
    );

  user
    .command('list')
    .description('the users and their roles')
    .option('--config <file>', 'config file')
    .option('--json', 'print JSON')
    .action((o: { config?: string; json?: boolean }) =>
      wrap(() => {
        const users = openUsers(o.config);
        const list = users.list();
        if (o.json) return printJson(list);
        if (list.length === 0) console.log(`no web users in ${users.path} (facegate web user add NAME --role admin creates the first)`);
        for (const u of list) console.log(`${u.name.padEnd(24)} ${u.role.padEnd(7)} since ${u.createdAt}, password set ${u.passwordChangedAt}`);
      }),
    );

  user
    .command('remove')
    .description('delete a user (their open sessions end at their next request)')
    .argument('<name>')
    .option('--config <file>', 'config file')
    .action((name: string, o: { config?: string }) =>
      wrap(() => {
        const users = openUsers(o.config);
        users.remove(name);
        info(`web user ${name} removed`);
      }),
    );

  user
    .command('passwd')
    .description('set a new password (logs that user out everywhere)')
    .argument('<name>')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('--config <file>', 'config file')
    .action((name: string, o: { passwordStdin?: boolean; config?: string }) =>
      wrap(async () => {
        const users = openUsers(o.config);
        if (!users.get(name)) throw new CliError(`no web user "${name}" (facegate web user list shows them)`);
        await users.setPassword(name, await newPassword(o.passwordStdin, name, stdin));
        info(`password of ${name} changed`);
      }),
    );
}
