// What ships: `npm pack`, install the tarball into a temporary project with no compiler on PATH, and
// load the addon from its prebuild (PREBUILDS_ONLY=1, so a stray local build cannot stand in for it).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'kquant-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// A PATH holding only node, npm and a shell: no cc, c++, make, cmake or nvcc.
function bareBin(): string {
  const bin = join(work, 'bin');
  mkdirSync(bin);
  for (const tool of ['node', 'sh']) {
    const found = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
    symlinkSync(found, join(bin, tool));
  }
  const npmCli = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  writeFileSync(join(bin, 'npm'), `#!/bin/sh\nexec "${process.execPath}" "${npmCli}" "$@"\n`, { mode: 0o755 });
  return bin;
}

describe('the packed package', () => {
  it('installs without a compiler and loads from its prebuild', () => {
    expect(existsSync(join(root, 'prebuilds', `${process.platform}-${process.arch}`)), 'run `npm run prebuild` (npm ci does) first').toBe(true);
    const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop()!;
    const project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module' }));
    const env = { ...process.env, PATH: bareBin(), PREBUILDS_ONLY: '1', npm_config_audit: 'false', npm_config_fund: 'false' };
    execFileSync('npm', ['install', '--prefer-offline', '--no-save', join(work, packed)], { cwd: project, env, encoding: 'utf8' });
    const installed = join(project, 'node_modules', 'kquant');
    expect(readdirSync(installed)).toContain('prebuilds');
    expect(existsSync(join(installed, 'build')), 'no local build in the consumer').toBe(false);
    const script = `
      import { backend, quantizeZeroPointSync, KquantError } from 'kquant';
      const q = quantizeZeroPointSync(Float32Array.from([-24.43, -17.4, 1.2345, 12.654]));
      let code = '';
      try { quantizeZeroPointSync(new Float32Array(0)); } catch (e) { code = e instanceof KquantError ? e.code : 'other'; }
      console.log(JSON.stringify({ simd: backend().simd, values: Array.from(q.values), zeroPoint: q.zeroPoint, code }));`;
    const out = JSON.parse(execFileSync('node', ['--input-type=module', '-e', script], { cwd: project, env, encoding: 'utf8' }));
    expect(out.values).toEqual([-128, -80, 48, 127]);
    expect(out.zeroPoint).toBe(40);
    expect(out.code).toBe('KQ_SHAPE');
    // CommonJS consumers reach the same build through require(esm).
    const cjs = execFileSync('node', ['-e', "console.log(typeof require('kquant').quantizeAbsmaxSync)"], { cwd: project, env, encoding: 'utf8' });
    expect(cjs.trim()).toBe('function');
  }, 240_000);
});
