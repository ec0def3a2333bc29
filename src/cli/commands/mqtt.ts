import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import mqtt, { type MqttClient } from 'mqtt';
import { describeConfigSource, loadConfigFor } from '../../config/load.js';
import { COMMAND_NAMES, contractJsonSchema, topicsFor } from '../../mqtt/contract.js';
import { discoveryFilter } from '../../mqtt/home-assistant.js';
import { signRequest } from '../../mqtt/signing.js';
import { hashHaCode } from '../../mqtt/ha-code.js';
import { deviceIdFromHostname, hmacKeyFrom, resolveMqttSettings, type MqttSettings } from '../../mqtt/settings.js';
import { CliError, info, onFile, printJson } from '../output.js';
import { secondsOption } from '../units.js';

function settingsFrom(configOption: string | undefined): MqttSettings {
  const loaded = loadConfigFor(configOption);
  if (!loaded.config.mqtt) throw new CliError(`${describeConfigSource(loaded)}: no mqtt: section (facegate config docs lists its options)`);
  info(describeConfigSource(loaded));
  return resolveMqttSettings(loaded, loaded.config.mqtt);
}

function parseParams(json: string | undefined): Record<string, unknown> {
  if (json === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new CliError(`parameters must be a JSON object, e.g. '{"door":"front"}': got ${json}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new CliError('parameters must be a JSON object');
  return value as Record<string, unknown>;
}

function signed(command: string, json: string | undefined, key: Buffer, device: string): Record<string, unknown> {
  if (!(COMMAND_NAMES as string[]).includes(command)) throw new CliError(`unknown command "${command}": one of ${COMMAND_NAMES.join(', ')}`);
  const params = parseParams(json);
  return signRequest(key, device, command, { transaction: randomBytes(6).toString('hex'), ...params });
}

async function connect(s: MqttSettings): Promise<MqttClient> {
  return mqtt.connectAsync(s.url, {
    clientId: `facegate-cli-${randomBytes(4).toString('hex')}`,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...(s.username !== undefined ? { username: s.username } : {}),
    ...(s.password !== undefined ? { password: s.password } : {}),
    ...(s.tls ? { ...s.tls } : {}),
  });
}

/** The code from stdin: typed at a terminal without echo, or the first line of a pipe (never an argument: `ps` would show it). */
async function readCode(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '').trim();
  }
  process.stderr.write('code for Home Assistant\'s lock (not shown): ');
  stdin.setRawMode(true);
  stdin.resume();
  let code = '';
  try {
    for await (const chunk of stdin) {
      for (const ch of (chunk as Buffer).toString('utf8')) {
        if (ch === '\r' || ch === '\n') return code;
        if (ch === '\u0003') throw new CliError('cancelled');
        if (ch === '\u007f' || ch === '\b') code = code.slice(0, -1);
        else code += ch;
      }
    }
    return code;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}

export function registerMqttCommands(program: Command): void {
  const cmd = program.command('mqtt').description('MQTT: sign and send requests, the payload schema, Home Assistant discovery');

  cmd
    .command('sign')
    .description(`print a signed request payload (commands: ${COMMAND_NAMES.join(', ')})`)
    .argument('<command>')
    .argument('[json]', 'parameters as a JSON object, e.g. \'{"door":"front"}\'')
    .option('--config <file>', 'take the key file and device id from this config')
    .option('--key-file <file>', 'HMAC key file (instead of the config\'s)')
    .option('--device <id>', 'device id the request is for (default: the config\'s, else this host\'s)')
    .action((command: string, json: string | undefined, o: { config?: string; keyFile?: string; device?: string }) => {
      let key: Buffer;
      let device = o.device;
      if (o.keyFile) key = hmacKeyFrom(onFile(o.keyFile, () => readFileSync(o.keyFile!, 'utf8')).trim(), o.keyFile);
      else {
        const s = settingsFrom(o.config);
        if (!s.commands.key) throw new CliError('no HMAC key: pass --key-file or set mqtt.commands.hmacKeyFile in the config');
        key = s.commands.key;
        device ??= s.device;
      }
      process.stdout.write(`${JSON.stringify(signed(command, json, key, device ?? deviceIdFromHostname(hostname())))}\n`);
    });

  cmd
    .command('request')
    .description('sign a request with the config\'s key, send it to the daemon and print the response (exit code 1 on an error response)')
    .argument('<command>')
    .argument('[json]', 'parameters as a JSON object')
    .option('--config <file>', 'config file (default: $FACEGATE_CONFIG, ./facegate.yaml, /etc/facegate/facegate.yaml)')
    .option('--timeout <seconds>', 'wait this long for the response, in seconds', '10')
    .action(async (command: string, json: string | undefined, o: { config?: string; timeout: string }) => {
      const timeoutMs = secondsOption('--timeout', o.timeout) * 1000;
      const s = settingsFrom(o.config);
      if (!s.commands.key) throw new CliError('no HMAC key in the config (mqtt.commands.hmacKeyFile): requests are signed');
      const request = signed(command, json, s.commands.key, s.device);
      const topics = topicsFor(s.base, s.device);
      const client = await connect(s);
      try {
        await client.subscribeAsync(topics.response(command), { qos: 1 });
        const response = new Promise<Record<string, unknown>>((resolve) =>
          client.on('message', (_topic, payload) => {
            let r: Record<string, unknown> | undefined;
            try {
              r = JSON.parse(payload.toString()) as Record<string, unknown>;
            } catch {
              return; // somebody else's message on the response topic
            }
            if (r?.transaction === request.transaction) resolve(r);
          }),
        );
        await client.publishAsync(topics.request(command), JSON.stringify(request), { qos: 1 });
        let timer: NodeJS.Timeout | undefined;
        const r = await Promise.race([response, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new CliError(`no response on ${topics.response(command)} within ${o.timeout} s: is the daemon running and connected?`)), timeoutMs)))]).finally(() => clearTimeout(timer));
        printJson(r);
        if (r.status !== 'ok') process.exitCode = 1;
      } finally {
        await client.endAsync();
      }
    });

  cmd
    .command('ha-code')
    .description("hash the code Home Assistant's lock must send to unlock: read from stdin (typed without echo, or piped), printed as the value for mqtt.homeAssistant.lock.codeHash")
    .action(async () => {
      const code = await readCode();
      let hash: string;
      try {
        hash = await hashHaCode(code);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      process.stdout.write(`${hash}\n`);
      info('put it in the config as mqtt.homeAssistant.lock.codeHash, keep the config readable only by root and facegate, and reload or restart the daemon');
    });

  cmd
    .command('schema')
    .description('the JSON Schema of every MQTT payload (docs/mqtt-events.schema.json)')
    .action(() => printJson(contractJsonSchema()));

  cmd
    .command('discovery')
    .description('Home Assistant discovery: --remove deletes every entity this device announced (the daemon re-announces them on its next connect unless mqtt.homeAssistant.enabled is false)')
    .requiredOption('--remove', 'remove the entities')
    .option('--config <file>', 'config file (default: $FACEGATE_CONFIG, ./facegate.yaml, /etc/facegate/facegate.yaml)')
    .option('--wait <seconds>', 'how long to collect the retained configs, in seconds', '1.5')
    .action(async (o: { config?: string; wait: string }) => {
      const waitMs = secondsOption('--wait', o.wait) * 1000;
      const s = settingsFrom(o.config);
      const client = await connect(s);
      const removed: string[] = [];
      try {
        client.on('message', (topic, payload) => {
          if (payload.length === 0) return;
          removed.push(topic);
          client.publish(topic, '', { qos: 1, retain: true });
        });
        await client.subscribeAsync(discoveryFilter(s.homeAssistant.prefix, s.device), { qos: 1 });
        await new Promise((r) => setTimeout(r, waitMs));
      } finally {
        await client.endAsync();
      }
      for (const t of removed) info(`removed ${t}`);
      console.log(`${removed.length} Home Assistant entities of ${s.device} removed`);
    });
}
