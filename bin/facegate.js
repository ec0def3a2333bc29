#!/usr/bin/env node
// Launcher: runs the TypeScript sources through tsx so a checkout works without a build step.
process.env.ORT_DISABLE_TELEMETRY ??= '1';
process.env.OPENCV4NODEJS_DISABLE_AUTOBUILD ??= '1';
process.env.OPENCV4NODEJS_DISABLE_EXTERNAL_MEM_TRACKING ??= '1';
const { register } = await import('tsx/esm/api');
register();
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
