// SPDX-License-Identifier: MIT
// Test helpers: a real siotd on loopback (the build's), temp folders, keys.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '..');
export const BIN = join(ROOT, 'bin', 'siot-client.js');
const BUILD = resolve(ROOT, '..', '..', 'build');
export const SIOTD = process.env.SIOTD ?? join(BUILD, 'src', 'siotd', 'siotd');
export const SIOT_CTL = process.env.SIOT_CTL ?? join(BUILD, 'src', 'siot-ctl', 'siot-ctl');

/** Why siotd tests cannot run here, or null.  In CI they must run. */
export function siotdMissing() {
  if (existsSync(SIOTD)) return null;
  const why = `no siotd at ${SIOTD} (build it, or set SIOTD)`;
  if (process.env.CI) throw new Error(why + ': CI must run these tests');
  return why;
}

export function tempDir() {
  return mkdtempSync(join(tmpdir(), 'siot-node-'));
}

/** Write a fresh base64 key file (mode 0600) and return [path, key]. */
export function makeKey(dir, name, mode = 0o600) {
  const key = randomBytes(32);
  const path = join(dir, name);
  writeFileSync(path, key.toString('base64') + '\n');
  chmodSync(path, mode);
  return [path, key];
}

export function script(dir, name, body) {
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\n' + body + '\n');
  chmodSync(path, 0o755);
  return path;
}

export async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
      s.close(() => res(port));
    });
  });
}

/** Start siotd with configText; resolves when it logs "ready:". */
export async function startSiotd(dir, configText, listen) {
  const conf = join(dir, 'siot.conf');
  writeFileSync(conf, configText);
  const env = { ...process.env };
  delete env.LISTEN_FDS;
  delete env.JOURNAL_STREAM;
  const child = spawn(SIOTD, ['-c', conf, '--listen', listen], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  await new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error('siotd did not start:\n' + log)), 10000);
    const check = () => {
      if (log.includes('ready:')) { clearTimeout(t); res(undefined); } else setTimeout(check, 20);
    };
    child.once('exit', (c) => { clearTimeout(t); rej(new Error(`siotd exited ${c}:\n${log}`)); });
    check();
  });
  return {
    child,
    log: () => log,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((res) => child.once('exit', res));
    },
  };
}

/** Run the CLI; returns { status, stdout, stderr }. */
export function cli(args) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60000 });
}

export function ctl(args) {
  return spawnSync(SIOT_CTL, args, { encoding: 'utf8', timeout: 60000, env: { ...process.env, SIOT_CTL_CONFIG: '/nonexistent' } });
}

export function cleanup(dir) {
  rmSync(dir, { recursive: true, force: true });
}

export function readVectors() {
  // The repository's one copy, shared with the C unit tests.
  return JSON.parse(readFileSync(join(here, '..', '..', '..', 'tests', 'siot-vectors.json'), 'utf8'));
}

/** Run the CLI without blocking this process (for fake servers living in it). */
export function cliAsync(args) {
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('close', (status) => { clearTimeout(t); res({ status, stdout, stderr }); });
  });
}

/** Run npm; its stdout, or a thrown error with its stderr. */
export function npm(args, opts = {}) {
  const r = spawnSync('npm', args, { encoding: 'utf8', timeout: 300000, ...opts });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

/**
 * npm pack of the package at pkgDir into dir: { tarball, files (sorted
 * paths), bundled }.
 */
export function pack(pkgDir, dir) {
  const out = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], { cwd: pkgDir }));
  return { tarball: join(dir, out[0].filename), files: out[0].files.map((f) => f.path).sort(), bundled: out[0].bundled };
}

/**
 * Install tarball into the empty folder dest as a user would, with the
 * network off: a cache is filled first (from the registry, in a scratch
 * folder), then npm install --offline runs in a network namespace of its
 * own when this process may make one (as root; else --offline alone, and
 * it says so).  Returns whether the network was really off.
 */
export function installOffline(tarball, dir, dest) {
  const cache = join(dir, 'npm-cache');
  const warm = mkdtempSync(join(dir, 'warm-'));
  writeFileSync(join(warm, 'package.json'), '{"name":"warm","version":"1.0.0","private":true}\n');
  npm(['install', '--no-audit', '--no-fund', '--cache', cache, tarball], { cwd: warm });
  if (!existsSync(join(dest, 'package.json')))
    writeFileSync(join(dest, 'package.json'), '{"name":"offline-install","version":"0.0.1","private":true}\n');
  const args = ['install', '--offline', '--no-audit', '--no-fund', '--cache', cache, tarball];
  const netns = spawnSync('unshare', ['-n', 'true']).status === 0;
  const r = netns
    ? spawnSync('unshare', ['-n', 'npm', ...args], { cwd: dest, encoding: 'utf8', timeout: 300000 })
    : spawnSync('npm', args, { cwd: dest, encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0) throw new Error(`offline install of ${tarball}: exit ${r.status}\n${r.stderr}`);
  if (!netns) process.stdout.write('# no network namespace here: npm --offline only\n');
  return netns;
}
