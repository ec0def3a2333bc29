// `facegate web user ...` as a user runs it: the password from a prompt without echo (in a real
// pseudo-terminal via util-linux `script`) or from stdin; the users file created 0600.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/paths.js';
import { Command } from 'commander';
import { registerWebCommands } from '../../src/cli/commands/web.js';
import { UserStore } from '../../src/web/user-store.js';
import { captureOutput } from '../helpers/cli.js';

/** Runs the command in a pseudo-terminal, typing each answer after its prompt appeared. */
function inTerminal(command: string, answers: { after: RegExp; type: string }[]): Promise<{ code: number | null; out: string }> {
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: REPO_ROOT });
  let out = '';
  const pending = [...answers];
  const onData = (d: Buffer) => {
    out += d.toString();
    while (pending[0] && pending[0].after.test(out)) child.stdin.write(pending.shift()!.type);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

test('web user add/remove: password from a prompt without echo or from stdin, users file 0600, clear refusals', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-web-cli-'));
  try {
    const config = join(dir, 'facegate.yaml');
    writeFileSync(config, 'gallery:\n  path: data/gallery.db\n');
    const usersPath = join(dir, 'data', 'web-users.json');
    const hasScript = spawnSync('script', ['--version']).status === 0;
    const viaPrompt = hasScript
      ? await inTerminal(`node bin/facegate.js web user add ada --role admin --config ${config}`, [
          { after: /password for ada: $/, type: 'typed-secret-42\r' },
          { after: /again: $/, type: 'typed-secret-42\r' },
        ])
      : undefined;
    const users = new UserStore(usersPath);
    if (viaPrompt) {
      assert.equal(viaPrompt.code, 0, viaPrompt.out);
      assert.match(viaPrompt.out, /web user ada \(admin\) added to .*web-users.json/);
      assert.doesNotMatch(viaPrompt.out, /typed-secret-42/, 'the password was echoed');
      assert.ok(await users.verify('ada', 'typed-secret-42'));
      assert.equal(users.get('ada')!.role, 'admin');
    }

    // In-process (one process start is enough): --password-stdin and the command's own checks.
    // Its output is captured (kept out of the test report) and returned.
    const cli = async (args: string[], stdin = '') => {
      const program = new Command().exitOverride();
      registerWebCommands(program, Readable.from([Buffer.from(stdin)]));
      return (await captureOutput(() => program.parseAsync(['web', 'user', ...args, '--config', config], { from: 'user' }))).stderr;
    };
    assert.match(await cli(['add', 'ops', '--password-stdin'], 'ops-password-123\nignored second line\n'), /^web user ops \(viewer\) added to .*web-users\.json\n$/);
    assert.ok(await users.verify('ops', 'ops-password-123'));
    assert.equal(users.get('ops')!.role, 'viewer', 'viewer unless --role admin');
    assert.equal(await cli(['passwd', 'ops', '--password-stdin'], 'ops-password-456\n'), 'password of ops changed\n');
    assert.equal(await users.verify('ops', 'ops-password-123'), null);
    assert.ok(await users.verify('ops', 'ops-password-456'));
    await assert.rejects(cli(['add', 'ops', '--password-stdin'], 'another-password\n'), /web user "ops" already exists/);
    await assert.rejects(cli(['add', 'eve', '--password-stdin'], 'short\n'), /shorter than 10 characters/);
    await assert.rejects(cli(['add', 'eve', '--password-stdin'], ''), /stdin is empty/);
    await assert.rejects(cli(['add', 'eve', '--role', 'root']), /--role root: use viewer or admin/);
    await assert.rejects(cli(['add', 'bad/name', '--password-stdin'], 'long-enough-password\n'), /user names are 1-64 letters/);
    await assert.rejects(cli(['passwd', 'nobody']), /no web user "nobody"/);
    assert.equal((statSync(usersPath).mode & 0o777).toString(8), '600');
    assert.ok(!JSON.stringify(users.list()).includes('scrypt$'), 'the list carries no hashes');

    assert.equal(await cli(['remove', 'ops']), 'web user ops removed\n');
    await assert.rejects(cli(['remove', 'ops']), /no web user "ops"/);
    assert.equal(new UserStore(usersPath).get('ops'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
