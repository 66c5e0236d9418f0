// web/tests/setup.mjs — a fresh vault for the browser tests: keys made with the real CLI, `kluisd
// init` with the example charter, `kluisd serve` on 127.0.0.1 with an OS-chosen port and the built
// page (--web), and Node-side principals (admin, professionals) speaking the API with the page's own
// modules (dist/vault.js, dist/crypto.js).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export async function startVault({ repo, dist, bin }) {
  const dir = mkdtempSync(join(tmpdir(), 'kluis-web-'));
  const kluis = join(bin, 'kluis');
  const kluisd = join(bin, 'kluisd');
  const quiet = { stdio: ['ignore', 'ignore', 'inherit'] };
  execFileSync(kluis, ['keygen', '--no-passphrase', '--id', 'beheer', '--out', join(dir, 'admin.key')], quiet);
  execFileSync(kluis, ['keygen', '--no-passphrase', '--authority', '--id', 'burgemeester-bureau', '--out', join(dir, 'auth.key')], quiet);
  const origin = 'test.example/kluis';
  execFileSync(kluisd, ['init', '--dir', join(dir, 'vault'), '--origin', origin, '--charter', join(repo, 'policy/charter.example.json'),
    '--admin-pub', join(dir, 'admin.key.pub'), '--authority-pub', join(dir, 'auth.key.pub')], quiet);
  const portFile = join(dir, 'port');
  const log = [];
  const proc = spawn(kluisd, ['serve', '--dir', join(dir, 'vault'), '--listen', '127.0.0.1:0', '--port-file', portFile, '--web', resolve(dist)], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr.on('data', (d) => log.push(String(d)));
  let exited = null;
  proc.on('exit', (code) => { exited = code; });
  for (let i = 0; i < 200 && !existsSync(portFile); i++) {
    if (exited !== null) throw new Error(`kluisd exited (${exited}): ${log.join('')}`);
    await sleep(50);
  }
  await sleep(50);
  const port = Number(readFileSync(portFile, 'utf8').trim());
  if (!port) throw new Error(`kluisd did not start: ${log.join('')}`);
  return {
    dir, port, origin, base: `http://127.0.0.1:${port}/`, log,
    adminKey: JSON.parse(readFileSync(join(dir, 'admin.key'), 'utf8')),
    authorityKey: JSON.parse(readFileSync(join(dir, 'auth.key'), 'utf8')),
    async stop() {
      if (exited === null) {
        proc.kill('SIGTERM');
        for (let i = 0; i < 100 && exited === null; i++) await sleep(50);
        if (exited === null) proc.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Does the vault route METHOD PATH at all? Unauthenticated, a routed endpoint answers 401 (or
 * 400/405...); an endpoint that has not landed yet is 404 from the router. */
export async function routed(base, method, path) {
  const r = await fetch(new URL(path, base), { method, headers: { 'Content-Type': 'application/json' }, body: method === 'GET' || method === 'DELETE' ? undefined : '{}' });
  return r.status !== 404;
}
