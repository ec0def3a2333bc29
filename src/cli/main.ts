// The facegate command line as a function: a fresh program per call, so the launcher runs it once
// and tests run it in-process many times (a process start costs about 2 s of CPU here).

import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../paths.js';
import { registerModelsCommands } from './commands/models.js';
import { registerModelsUseCommand } from './commands/models-use.js';
import { registerDetectCommand } from './commands/detect.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerEvalDetectCommand } from './commands/eval-detect.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerCompareCommand } from './commands/compare.js';
import { registerEvalCommand } from './commands/eval.js';
import { registerGalleryCommands } from './commands/gallery.js';
import { registerFleetCommands } from './commands/fleet.js';
import { registerIdentifyCommands } from './commands/identify.js';
import { registerEvalIdentifyCommand } from './commands/eval-identify.js';
import { registerConfigCommands } from './commands/config.js';
import { registerRunCommand } from './commands/run.js';
import { registerTuneCommand } from './commands/tune.js';
import { registerMqttCommands } from './commands/mqtt.js';
import { registerWebCommands } from './commands/web.js';
import { reportError } from './output.js';
import { registerEvalLivenessCommand } from './commands/eval-liveness.js';
import { registerCalibrateLivenessCommand } from './commands/calibrate-liveness.js';
import { registerLivenessCommands } from './commands/liveness.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

/** Runs one command line (argv without node and the script); resolves to the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  // A script asks for --json anywhere on the line; every error then comes as JSON too.
  const json = argv.includes('--json');
  const before = process.exitCode;
  process.exitCode = undefined;
  let code: number;
  try {
    await program.parseAsync(argv, { from: 'user' });
    code = Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; commander has printed usage errors already.
      if (err.exitCode !== 0 && json) reportError(err, { json, alreadyShown: true });
      code = err.exitCode;
    } else code = reportError(err, { json });
  }
  process.exitCode = before;
  return code;
}

function buildProgram(): Command {
  const program = new Command('facegate')
    .description('face-recognition door controller: MTCNN + MobileFaceNet on ONNX Runtime')
    .version(pkg.version)
    .showHelpAfterError()
    // Usage errors come back here (not process.exit) so that --json can report them as JSON too.
    // Subcommands inherit this: it must be set before they are added.
    .exitOverride();

  registerModelsCommands(program);
  registerModelsUseCommand(program);
  registerDetectCommand(program);
  registerEvalDetectCommand(program);
  registerBenchCommand(program);
  registerCompareCommand(program);
  registerEvalCommand(program);
  registerGalleryCommands(program);
  registerFleetCommands(program);
  registerIdentifyCommands(program);
  registerEvalIdentifyCommand(program);
  registerConfigCommands(program);
  registerRunCommand(program);
  registerMqttCommands(program);
  registerTuneCommand(program);
  registerDemoCommand(program);
  registerWebCommands(program);
  registerEvalLivenessCommand(program);
  registerCalibrateLivenessCommand(program);
  registerLivenessCommands(program);

  return program;
}
