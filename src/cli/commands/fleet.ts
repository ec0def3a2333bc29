import type { Command } from 'commander';
import mqtt from 'mqtt';
import { loadConfig } from '../../config/load.js';
import { configPathFrom } from '../../app/gallery-context.js';
import { fleetView, parseStatus, type ControllerStatus } from '../../fleet/fleet-status.js';
import { resolveFleetSettings } from '../../fleet/settings.js';
import { writeSiteKeys } from '../../fleet/site-keys.js';
import { controllerOf, siteTopics } from '../../fleet/topics.js';
import { printJson } from '../output.js';
import { secondsOption } from '../units.js';

/** The retained status of every controller of the site, read with a client of its own. */
export async function readStatuses(config: string | undefined, waitMs: number): Promise<{ site: string; statuses: ControllerStatus[] }> {
  const loaded = loadConfig(configPathFrom(config));
  const f = loaded.config.fleet;
  if (!f) throw new Error(`no fleet: section in ${loaded.path ?? 'the built-in defaults'}: this controller is not part of a site`);
  const s = resolveFleetSettings(loaded, f, []);
  const topics = siteTopics(s.site);
  const client = await mqtt.connectAsync(s.url, {
    clientId: `facegate-fleet-status-${process.pid}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...(s.username !== undefined ? { username: s.username } : {}),
    ...(s.password !== undefined ? { password: s.password } : {}),
    ...(s.tls ? { ...(s.tls.ca ? { ca: s.tls.ca } : {}), rejectUnauthorized: s.tls.rejectUnauthorized } : {}),
  }).catch((err: Error) => {
    throw new Error(`cannot reach the site broker ${s.url}: ${err.message}`);
  });
  const statuses = new Map<string, ControllerStatus>();
  const marker = `status-${process.pid}-${Date.now()}`;
  const markerTopic = topics.sync(`cli-${process.pid}`);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, waitMs);
    client.on('message', (topic, payload) => {
      if (topic === markerTopic) {
        if (payload.toString() === marker) {
          clearTimeout(timer);
          resolve();
        }
        return;
      }
      const id = controllerOf(topic, topics.base);
      const st = id && parseStatus(id, payload);
      if (st) statuses.set(st.controller, st);
    });
    // Retained statuses arrive before the marker published after the subscription.
    void client.subscribeAsync([topics.statuses, markerTopic], { qos: 1 }).then(() => client.publishAsync(markerTopic, marker, { qos: 1 }));
  });
  await client.endAsync();
  return { site: s.site, statuses: [...statuses.values()] };
}

function ago(iso: string | undefined): string {
  if (!iso) return '-';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

export function registerFleetCommands(program: Command): void {
  const fleet = program.command('fleet').description('the controllers of this site and their shared gallery (fleet: in the config)');

  fleet
    .command('status')
    .description('controllers up, gallery version and hash per controller, lag, conflicts resolved (from their retained status)')
    .option('--config <file>', 'config file')
    .option('--wait <seconds>', 'longest wait for the broker to send the statuses', '3')
    .option('--json', 'print JSON')
    .action(async (o: { config?: string; wait: string; json?: boolean }) => {
      const { site, statuses } = await readStatuses(o.config, secondsOption('--wait', o.wait, { max: 600 }) * 1000);
      const view = fleetView(statuses);
      if (o.json) return printJson({ site, ...view });
      if (view.controllers.length === 0) {
        console.log(`no controller of site ${site} has reported a status`);
        process.exitCode = 1;
        return;
      }
      console.log(`site ${site}: ${view.up} of ${view.controllers.length} controllers up, ${view.converged ? 'all hold the same gallery' : `${view.hashes} different galleries (converging, or partitioned)`}`);
      console.log(`${'controller'.padEnd(20)} ${'state'.padEnd(5)} ${'role'.padEnd(8)} ${'people'.padStart(6)} ${'gallery'.padEnd(12)} ${'lag'.padStart(9)} ${'conflicts'.padStart(9)} ${'refused'.padStart(7)}  seen`);
      for (const c of view.controllers) {
        const lag = c.lagMs === null ? '-' : `${(c.lagMs / 1000).toFixed(1)} s`;
        console.log(`${c.controller.padEnd(20)} ${(c.up ? 'up' : 'down').padEnd(5)} ${(c.role ?? '-').padEnd(8)} ${String(c.people ?? '-').padStart(6)} ${(c.galleryHash ?? '-').slice(0, 12).padEnd(12)} ${lag.padStart(9)} ${String(c.conflicts ?? '-').padStart(9)} ${String(c.rejected ?? '-').padStart(7)}  ${ago(c.at)}`);
      }
      if (!view.converged) process.exitCode = 2;
    });

  fleet
    .command('keygen')
    .description('make the site keys (Ed25519 signing pair, AES-256 data key) in DIR, mode 0600: copy them to every controller of the site (followers need only site-verify.pem and site-data.key)')
    .argument('<dir>')
    .action((dir: string) => {
      const files = writeSiteKeys(dir);
      console.log(`wrote ${files.signingKeyFile}, ${files.verifyKeyFile} and ${files.dataKeyFile}; in the config:\nfleet:\n  keys:\n    signingKeyFile: ${files.signingKeyFile}\n    dataKeyFile: ${files.dataKeyFile}`);
    });
}
