// `npm install` / `npm ci` hook.
// - A development checkout (a git work tree): the full CMake build through prebuildify, so build/ and
//   prebuilds/<platform>-<arch>/ both hold the addon (CUDA kernels when nvcc is found).
// - An installed package: node-gyp-build's usual path — a matching prebuild, else a CPU-only node-gyp build.
// KQUANT_BUILD=cmake|gyp|skip overrides the choice.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const mode = process.env.KQUANT_BUILD ?? (existsSync(join(root, '.git')) ? 'cmake' : 'package');

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.error) throw result.error;
  if (result.status !== 0) process.exit(result.status ?? 1);
}

switch (mode) {
  case 'skip':
    break;
  case 'cmake':
    run('npm', ['run', 'prebuild']);
    break;
  case 'gyp':
    run('npm', ['run', 'build:gyp']);
    break;
  case 'package':
    // node-gyp-build's own command: keeps a matching prebuild, else builds with node-gyp.
    run(process.execPath, [createRequire(import.meta.url).resolve('node-gyp-build/bin.js')]);
    break;
  default:
    console.error(`kquant: KQUANT_BUILD=${mode} is not one of cmake, gyp, skip`);
    process.exit(1);
}
