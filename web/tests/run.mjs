// web/tests/run.mjs — the citizen page's tests: static serving and headers over HTTP, every crypto
// vector inside Chromium under the page's CSP, the shell and the charter in both languages, an axe
// scan of every screen, and each end-to-end flow whose endpoints the vault serves (a flow whose
// endpoint has not landed prints "# SKIP"). Prints "ok - NAME" / "not ok - NAME", then a tally;
// exits non-zero on any failure.
//
// Usage: node tests/run.mjs [--repo DIR] [--bin DIR] [--dist DIR] [--shots DIR]
import { readFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';
import { startVault, routed } from './setup.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const repo = resolve(arg('--repo', join(here, '..', '..')));
const dist = resolve(arg('--dist', join(here, '..', 'dist')));
const bin = resolve(arg('--bin', join(repo, 'build')));
const shots = resolve(arg('--shots', join(here, '..', 'test-output')));
const sharedVectors = process.env.KLUIS_VECTORS ? join(process.env.KLUIS_VECTORS, 'kluis-v1.json')
  : [join(repo, '..', 'shared', 'vectors', 'kluis-v1.json'), '/work/shared/vectors/kluis-v1.json'].find((p) => { try { readFileSync(p); return true; } catch { return false; } });

let passed = 0;
let failed = 0;
let skipped = 0;
const done = new Set();

function report(name, ok, detail) {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok' : 'not ok'} - ${name}`);
  if (!ok && detail) for (const l of String(detail).split('\n').slice(0, 12)) console.log(`#   ${l}`);
}

function assert(cond, msg) { if (!cond) throw new Error(msg || 'assertion failed'); }
function assertEq(got, want, msg) { if (got !== want) throw new Error(`${msg || 'mismatch'}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`); }

/** Run one test; NEEDS are [method, path] endpoints and names of earlier tests that must have passed. */
async function test(name, fn, { needs = [], after = [] } = {}) {
  for (const [m, p] of needs) {
    if (!(await routed(vault.base, m, p))) { skipped++; console.log(`# SKIP ${name}: the vault does not serve ${m} ${p} yet`); return; }
  }
  for (const dep of after) {
    if (!done.has(dep)) { skipped++; console.log(`# SKIP ${name}: needs "${dep}"`); return; }
  }
  try {
    await fn();
    report(name, true);
    done.add(name);
  } catch (e) {
    const n = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
    await shot(`FAILED-${n}`);
    const alerts = await page.locator('.utrecht-alert').allTextContents().catch(() => []);
    report(name, false, `${e && e.stack ? e.stack : e}${alerts.length ? `\nalerts on the page: ${alerts.join(' | ')}` : ''}`);
  }
}

// ---- the vault and the browser -----------------------------------------------------------------

const vault = await startVault({ repo, dist, bin });
const api = await import(join(dist, 'api.js'));
const kc = await import(join(dist, 'crypto.js'));
const V = await import(join(dist, 'vault.js'));
api.setBase(vault.base);

const profile = mkdtempSync(join(tmpdir(), 'kluis-chromium-'));
rmSync(shots, { recursive: true, force: true });
mkdirSync(shots, { recursive: true });
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  acceptDownloads: true,
  locale: 'nl-NL',
  viewport: { width: 1100, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const page = context.pages()[0] || await context.newPage();
const problems = [];
const external = [];
context.on('request', (r) => { const u = new URL(r.url()); if (!['127.0.0.1', ''].includes(u.hostname) && !u.protocol.startsWith('blob') && !u.protocol.startsWith('data')) external.push(r.url()); });
page.on('console', (m) => { if (m.type() === 'error' || /Content Security Policy|Refused to/.test(m.text())) problems.push(`console ${m.type()}: ${m.text()}`); });
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

const ready = async (p = page) => p.waitForSelector('body[data-ready="1"]', { timeout: 20000 });
const h1 = async (p = page) => (await p.locator('#page-title').textContent()).trim();
const waitH1 = async (text, p = page, timeout = 30000) => p.waitForFunction((t) => document.getElementById('page-title')?.textContent.trim() === t, text, { timeout });
/** Go to a screen of the logged-in page the way a person does: through the menu. */
const nav = async (name) => page.click(`#nav a[href="#/${name}"]`);
const shot = async (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true }).catch(() => {});

async function axe(name) {
  const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const v = r.violations.map((x) => `${x.id} (${x.impact}): ${x.help} — ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  await shot(name);
  if (v.length) throw new Error(`axe on ${name}:\n${v.join('\n')}`);
}

// ---- principals on the Node side ---------------------------------------------------------------

let admin = null;
async function adminSession() {
  if (!admin) admin = await V.loginWithKeys(vault.adminKey.id, kc.openKeyFile(vault.adminKey));
  return admin;
}
async function registerPro(id, displayName, organisation) {
  const a = await adminSession();
  const keys = kc.newKeys();
  await api.post('/principals', { id, role: 'professional', display_name: displayName, organisation, sign_pk: kc.b64(keys.signPk), box_pk: kc.b64(keys.boxPk) }, a.token);
  const s = await V.loginWithKeys(id, keys);
  await V.loadDirectory(s);
  return s;
}

const CITIZEN = 'burger-0001';
const PASS = 'paarse fiets zingt onder de oude brug';
const PASS2 = 'groene kikker danst op het natte dak';
const ctx = {};

try {
  // ---- 1. static serving -----------------------------------------------------------------------
  await test('static: GET / is the page, with CSP, nosniff, no-referrer, frame-ancestors none', async () => {
    const r = await fetch(vault.base);
    assertEq(r.status, 200, 'status');
    assert(/^text\/html/.test(r.headers.get('content-type')), 'content-type html');
    const csp = r.headers.get('content-security-policy') || '';
    for (const d of ["default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'", "object-src 'none'"])
      assert(csp.includes(d), `CSP lacks ${d}: ${csp}`);
    assert(!/unsafe-inline|unsafe-eval'(?!.*wasm)|\*/.test(csp.replace("'wasm-unsafe-eval'", '')), `CSP too loose: ${csp}`);
    assertEq(r.headers.get('x-content-type-options'), 'nosniff', 'nosniff');
    assertEq(r.headers.get('referrer-policy'), 'no-referrer', 'referrer-policy');
    assert(r.headers.get('etag'), 'etag');
    const body = await r.text();
    assert(!/<script(?![^>]*\bsrc=)[^>]*>/.test(body), 'an inline script');
    assert(!/\sstyle=/.test(body) && !/<style/.test(body), 'inline style');
    const loads = [...body.matchAll(/<script\b[^>]*>|<link\b[^>]*rel="(?:stylesheet|modulepreload)"[^>]*>/g)];
    assert(loads.length >= 10, `scripts and styles: ${loads.length}`);
    for (const m of loads) assert(/integrity="sha384-[A-Za-z0-9+/=]{64}"/.test(m[0]), `no SRI: ${m[0]}`);
  });
  await test('static: content types (js, mjs, css, woff2) and If-None-Match → 304', async () => {
    const ct = async (p) => (await fetch(new URL(p, vault.base))).headers.get('content-type');
    assert(/^text\/javascript/.test(await ct('/app.js')), 'app.js');
    assert(/^text\/javascript/.test(await ct('/vendor/sodium/libsodium-sumo.mjs')), 'mjs');
    assert(/^text\/css/.test(await ct('/style.css')), 'css');
    assertEq(await ct('/vendor/nlds/fonts/noto-sans-latin-wght-normal.woff2'), 'font/woff2', 'woff2');
    const r1 = await fetch(new URL('/app.js', vault.base));
    const etag = r1.headers.get('etag');
    const r2 = await fetch(new URL('/app.js', vault.base), { headers: { 'If-None-Match': etag } });
    assertEq(r2.status, 304, 'conditional GET');
    const r3 = await fetch(new URL('/app.js', vault.base), { method: 'HEAD' });
    assertEq(r3.status, 200, 'HEAD');
  });
  await test('static: no traversal, no listing, no dot files, API not shadowed', async () => {
    const net = await import('node:net');
    const raw = (path) => new Promise((res) => {
      const s = net.connect(vault.port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      let d = ''; s.on('data', (c) => { d += c; }); s.on('end', () => res(Number(d.split(' ')[1]))); s.on('error', () => res(0));
    });
    for (const p of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/vendor/', '/vendor', '/vendor/sodium/', '//app.js', '/app.js/', '/./app.js',
      '/vendor/../app.js', '/index.html%00', '/.git/config', '/node_modules/libsodium-sumo/package.json', '/APP.JS', '/app.js?x=1#'])
      { const st = await raw(p); assert(st === 404 || (p === '/app.js?x=1#' && st === 200), `${p} → ${st}`); }
    const v = await fetch(new URL('/v1/health', vault.base));
    assertEq((await v.json()).status, 'ok', 'API still answers');
    const post = await fetch(vault.base, { method: 'POST', body: 'x' });
    assert(post.status === 404 || post.status === 405, `POST / → ${post.status}`);
  });

  // ---- 2. the page shell, crypto in the browser --------------------------------------------------
  await test('browser: the page loads under its CSP with no errors and nothing from other hosts', async () => {
    await page.goto(vault.base);
    await ready();
    assertEq(await page.getAttribute('html', 'lang'), 'nl', 'lang');
    assertEq(await h1(), 'Inloggen', 'first screen');
    assertEq(await page.locator('#origin').textContent(), vault.origin, 'origin');
    assert(!problems.length, problems.join('\n'));
    assert(!external.length, `requests to other hosts: ${external.join(', ')}`);
  });

  const vectors = JSON.parse(readFileSync(sharedVectors, 'utf8')).vectors;
  const vectorSrc = readFileSync(join(here, 'vectors.js'), 'utf8');
  await page.route('**/__test__/vectors.js', (r) => r.fulfill({ status: 200, contentType: 'text/javascript', body: vectorSrc }));
  let browserVectors = [];
  await test('browser: crypto.js loads libsodium (WebAssembly) in Chromium', async () => {
    browserVectors = await page.evaluate(async (vec) => {
      const kcb = await import('/crypto.js');
      const { runVectors } = await import('/__test__/vectors.js');
      return runVectors(kcb, vec);
    }, vectors);
    assert(browserVectors.length >= 20, `only ${browserVectors.length} vector checks ran`);
  });
  for (const r of browserVectors) report(`browser (Chromium): ${r.name}`, r.ok, r.detail);
  const expectVectors = ['keys', 'bundle', 'key_commitment', 'entry', 'statement', 'auth', 'wrap', 'escrow', 'journal', 'checkpoint'];
  await test('browser: every vector group of kluis-v1.json was checked', async () => {
    const seen = new Set(browserVectors.map((r) => /^vector (\w+)/.exec(r.name)?.[1]));
    for (const g of Object.keys(vectors)) assert(seen.has(g), `vector group ${g} not checked`);
    for (const g of expectVectors) assert(seen.has(g), `vector group ${g} missing`);
  });

  await test('browser: the Argon2id Web Worker runs under the CSP', async () => {
    const hex = await page.evaluate(async () => {
      const w = new Worker('/argon-worker.js', { type: 'module' });
      return new Promise((res, rej) => {
        w.onmessage = (e) => {
          if (e.data.ready) { w.postMessage({ passphrase: 'correct horse battery staple', salt: new Uint8Array(16).fill(7), opslimit: 2, memlimit: 67108864 }); return; }
          w.terminate();
          if (e.data.master) res([...new Uint8Array(e.data.master)].map((b) => b.toString(16).padStart(2, '0')).join('')); else rej(new Error(e.data.error));
        };
        w.onerror = (e) => rej(new Error(e.message || 'worker error'));
      });
    });
    assertEq(hex, vectors.bundle.master, 'master from the worker');
  });

  await test('browser: the two languages have the same words', async () => {
    const k = await page.evaluate(async () => (await import('/i18n.js')).keys());
    const nl = new Set(k.nl); const en = new Set(k.en);
    const onlyNl = [...nl].filter((x) => !en.has(x)); const onlyEn = [...en].filter((x) => !nl.has(x));
    assert(!onlyNl.length && !onlyEn.length, `only nl: ${onlyNl.join(',')}; only en: ${onlyEn.join(',')}`);
  });

  await test('browser: Dutch first, English switch and back', async () => {
    await page.click('#lang');
    await waitH1('Log in');
    assertEq(await page.getAttribute('html', 'lang'), 'en', 'lang en');
    assertEq((await page.textContent('#lang')).trim(), 'Nederlands', 'switch label');
    assertEq(await page.getAttribute('#lang', 'lang'), 'nl', 'switch button language');
    await axe('login-en');
    await page.click('#lang');
    await waitH1('Inloggen');
    assertEq(await page.getAttribute('html', 'lang'), 'nl', 'lang nl');
  });

  await test('browser: the charter in plain language (GET /v1/charter)', async () => {
    await page.goto(`${vault.base}#/charter`);
    await ready();
    await waitH1('Afspraken over privacy');
    const charter = JSON.parse(readFileSync(join(repo, 'policy/charter.example.json'), 'utf8'));
    const principles = await page.locator('ul[lang="nl"] li').count();
    assertEq(principles, charter.principles.length, 'principles');
    const text = await page.locator('main').textContent();
    for (const p of charter.purposes) assert(text.includes(p.title), `purpose ${p.title}`);
    assert(text.includes('72 uur'), 'override hours');
    await axe('charter-nl');
    await page.click('#lang');
    await waitH1('Privacy rules');
    const en = await page.locator('main').textContent();
    assert(en.includes('Support by the neighbourhood team') && en.includes('adopted in Dutch only'), 'english charter');
    await axe('charter-en');
    await page.click('#lang');
    await waitH1('Afspraken over privacy');
  });

  await test('axe: login screen (nl)', async () => {
    await page.goto(`${vault.base}#/login`);
    await ready();
    await axe('login-nl');
  });
  await test('axe: enrolment screen, with the strength meter and the warning', async () => {
    await page.goto(`${vault.base}#/enrol`);
    await ready();
    await waitH1('Account activeren');
    const warn = await page.locator('.utrecht-alert--warning').textContent();
    assert(/niemand kan uw wachtwoordzin herstellen/i.test(warn), 'the plain warning');
    await page.fill('#enrol-form input[type=password] >> nth=0', 'abc');
    const weak = await page.locator('.kluis-meter-text').textContent();
    await page.fill('#enrol-form input[type=password] >> nth=0', PASS);
    const strong = await page.locator('.kluis-meter-text').textContent();
    assert(weak !== strong && /Sterk|Goed/.test(strong), `meter: ${weak} → ${strong}`);
    await page.click('#enrol-form button[type=submit]');
    assert(await page.locator('[aria-invalid="true"]').count() > 0, 'errors shown');
    await axe('enrol-errors');
  });

  // ---- 3. flows end to end ----------------------------------------------------------------------
  await test('flow: enrol with the code from the municipality (keys and Argon2id in the browser)', async () => {
    const a = await adminSession();
    const c = await api.post('/citizens', { id: CITIZEN, display_name: 'Mevrouw Test' }, a.token);
    assert(c.enrollment_code, 'an enrollment code');
    ctx.anna = await registerPro('wijk-anna', 'Anna de Vries', 'Wijkteam Noord');
    ctx.carla = await registerPro('schuld-carla', 'Carla Jansen', 'Schuldhulp Voorbeeldstad');
    await page.goto(`${vault.base}#/enrol`);
    await ready();
    const inputs = page.locator('#enrol-form input');
    await inputs.nth(0).fill(CITIZEN);
    await inputs.nth(1).fill(c.enrollment_code);
    await inputs.nth(2).fill(PASS);
    await inputs.nth(3).fill(PASS);
    await page.check('#enrol-form input[type=checkbox]');
    await page.click('#enrol-form button[type=submit]');
    await page.waitForSelector('.kluis-busy progress', { timeout: 5000 }).catch(() => {});
    await waitH1('Mijn dossier', page, 60000);
    assert((await page.textContent('#who')).includes(CITIZEN), 'logged in');
    assert(!(await page.isHidden('#logout')), 'logout visible');
    const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    assert(!/token|secret|sign|box/i.test(storage), `nothing secret in storage: ${storage}`);
  }, { needs: [['POST', '/v1/citizens/x/enroll'], ['POST', '/v1/citizens']] });

  await test('flow: dossier view and adding a note (encrypted in the browser, signature verified)', async () => {
    await page.waitForSelector('#note-form');
    await axe('dossier-empty');
    await page.selectOption('#note-form select', 'plan');
    await page.fill('#note-form input[type=text]', 'Mijn doelen');
    await page.fill('#note-form textarea', 'Ik wil weer werk vinden en mijn schulden regelen.');
    await page.click('#note-form button[type=submit]');
    await page.waitForSelector('.kluis-entry h3:text("Mijn doelen")', { timeout: 15000 });
    const card = await page.locator('.kluis-entry').first().textContent();
    assert(card.includes('Handtekening gecontroleerd') && card.includes('uzelf'), `verified card: ${card}`);
    await axe('dossier-note');
  }, { after: ['flow: enrol with the code from the municipality (keys and Argon2id in the browser)'], needs: [['GET', '/v1/citizens/x/dossier'], ['POST', '/v1/citizens/x/sections/y/entries']] });

  await test('flow: give access (search, purpose, sections, duration, summary, sign)', async () => {
    await nav('give');
    await waitH1('Toegang geven');
    await page.waitForSelector('#give-form');
    await page.fill('#give-form input[type=search]', 'anna');
    assertEq(await page.locator('#give-form .kluis-people .utrecht-form-field:not([hidden])').count(), 1, 'search narrows to Anna');
    await page.check('#give-form input[value="wijk-anna"]');
    await page.selectOption('#give-form select', 'ondersteuning');
    const offered = await page.locator('#give-form input[name=sections]').evaluateAll((els) => els.map((e) => e.value));
    assertEq(offered.join(','), 'plan,wonen,zorg-gezondheid', 'only the sections the purpose allows');
    await page.uncheck('#give-form input[name=sections][value="zorg-gezondheid"]');
    assertEq(await page.getAttribute('#give-form input[type=number]', 'max'), '180', 'max days from the charter');
    await page.fill('#give-form input[type=number]', '200');
    await page.click('#give-form button[type=submit]');
    assert(await page.locator('#give-form input[type=number][aria-invalid=true]').count() === 1, 'over the charter maximum refused');
    await page.fill('#give-form input[type=number]', '30');
    await page.click('#give-form button[type=submit]');
    await page.waitForSelector('#summary-text');
    const summary = await page.textContent('#summary-text');
    assert(/Anna de Vries/.test(summary) && /Ondersteuningsplan en Wonen/.test(summary) && /meelezen/.test(summary), summary);
    await axe('give-summary');
    await page.click('.kluis-summary button.utrecht-button--primary-action');
    await waitH1('Wie mag meekijken', page, 20000);
    const card = page.locator('.kluis-grant[data-grant]').first();
    const text = await card.textContent();
    assert(/Anna de Vries/.test(text) && /Actief/.test(text) && /Ondersteuning door het wijkteam/.test(text), text);
    await axe('access-cards');
  }, { after: ['flow: dossier view and adding a note (encrypted in the browser, signature verified)'], needs: [['POST', '/v1/citizens/x/grants'], ['GET', '/v1/principals']] });

  await test('flow: the professional reads and decrypts the note under the grant', async () => {
    const s = ctx.anna;
    // The professional needs the citizen's signing key to verify the citizen's own entries: kluisd
    // is to add it to GET /dossier ("sign_pk", as the CLI expects); until then take it out of band.
    const raw = await api.get(`/citizens/${CITIZEN}/dossier`, s.token);
    if (!raw.sign_pk) {
      console.log('# note: GET /v1/citizens/{c}/dossier has no "sign_pk" yet; the citizen key is taken out of band');
      const me = await V.loginWithPassphrase(CITIZEN, PASS, async (p, salt, o, m) => kc.pwhash(p, salt, o, m));
      ctx.citizenSignPk = me.keys.signPk;
      await V.logout(me);
    }
    const d = await V.loadDossier(s, CITIZEN, ctx.citizenSignPk);
    const plan = d.sections.find((x) => x.section === 'plan');
    assert(plan && plan.epochs.length, `plan open to Anna: ${JSON.stringify(d.sections.map((x) => x.section))}`);
    const entries = await V.loadEntries(s, CITIZEN, 'plan', ctx.citizenSignPk);
    const note = entries.find((e) => e.ok && e.doc.title === 'Mijn doelen');
    assert(note, `decrypted note: ${JSON.stringify(entries)}`);
    let refused = null;
    try { await V.loadEntries(s, CITIZEN, 'schulden'); } catch (e) { refused = e.code; }
    assert(refused && refused !== 'not_found', `a section outside the grant: ${refused}`);
  }, { after: ['flow: give access (search, purpose, sections, duration, summary, sign)'], needs: [['GET', '/v1/citizens/x/sections/y/entries']] });

  await test('flow: the journal shows the read, chain verified in the browser', async () => {
    await nav('journal');
    await waitH1('Wie keek er mee');
    await page.waitForSelector('.utrecht-alert--ok, .utrecht-alert--error', { timeout: 15000 });
    const ok = await page.locator('.utrecht-alert--ok').count();
    assert(ok === 1, `journal verified: ${await page.locator('main').textContent()}`);
    const tl = await page.locator('.kluis-timeline').textContent();
    assert(/Anna de Vries/.test(tl), `Anna's read in the timeline: ${tl.slice(0, 400)}`);
    await axe('journal');
  }, { after: ['flow: the professional reads and decrypts the note under the grant'], needs: [['GET', '/v1/citizens/x/journal']] });

  await test('flow: a journal shorter than last time is flagged', async () => {
    await page.evaluate((c) => localStorage.setItem(`kluis.journal.${c}`, JSON.stringify({ n: 100000, head: 'x' })), CITIZEN);
    await nav('dossier');
    await waitH1('Mijn dossier');
    await nav('journal');
    await waitH1('Wie keek er mee');
    await page.waitForSelector('.utrecht-alert--error', { timeout: 15000 });
    assert(/korter dan de vorige keer/.test(await page.locator('.utrecht-alert--error').textContent()), 'shorter warning');
    await page.evaluate((c) => localStorage.removeItem(`kluis.journal.${c}`), CITIZEN);
  }, { after: ['flow: the journal shows the read, chain verified in the browser'] });

  await test('flow: revoke with one confirmation, keys rotated, professional refused', async () => {
    await nav('access');
    await waitH1('Wie mag meekijken');
    const card = page.locator('.kluis-grant--active').first();
    await card.locator('button:text("Intrekken")').click();
    await axe('revoke-confirm');
    await card.locator('button:text("Ja, intrekken")').click();
    await page.waitForSelector('.utrecht-alert--ok', { timeout: 20000 });
    assert(/ingetrokken/.test(await page.locator('.utrecht-alert--ok').textContent()), 'revoked message');
    assert(await page.locator('.kluis-grant--revoked').count() >= 1, 'card shows revoked');
    let code = null;
    try { await V.loadEntries(ctx.anna, CITIZEN, 'plan'); } catch (e) { code = e.code; }
    assertEq(code, 'grant_revoked', 'Anna refused');
  }, { after: ['flow: give access (search, purpose, sections, duration, summary, sign)'], needs: [['POST', '/v1/citizens/x/grants/g/revoke'], ['POST', '/v1/citizens/x/sections/y/rotate']] });

  await test('flow: a request from a professional, approved (grant answers it)', async () => {
    const s = ctx.anna;
    const st = { type: 'request', id: kc.newId('rq'), signer: s.id, issued: Math.floor(Date.now() / 1000), citizen: CITIZEN, sections: ['plan'], access: 'read', purpose: 'ondersteuning', days: 60, note: 'Voor het keukentafelgesprek.' };
    await api.post('/requests', kc.signStatement(st, s.keys.signSk), s.token);
    await nav('requests');
    await waitH1('Verzoeken');
    await page.waitForSelector(`.kluis-request[data-request="${st.id}"]`, { timeout: 15000 });
    await axe('requests');
    await page.click(`.kluis-request[data-request="${st.id}"] button.utrecht-button--primary-action`);
    await waitH1('Toegang geven');
    await page.waitForSelector('#give-form');
    assert(await page.isChecked('#give-form input[value="wijk-anna"]'), 'prefilled grantee');
    await page.click('#give-form button[type=submit]');
    await page.waitForSelector('#summary-text');
    await page.click('.kluis-summary button.utrecht-button--primary-action');
    await waitH1('Wie mag meekijken', page, 20000);
    await V.loadDossier(s, CITIZEN, ctx.citizenSignPk);
    const entries = await V.loadEntries(s, CITIZEN, 'plan', ctx.citizenSignPk);
    assert(entries.some((e) => e.ok && e.doc.title === 'Mijn doelen'), 'Anna reads again (all epochs wrapped)');
    await nav('requests');
    await waitH1('Verzoeken');
    await page.waitForSelector('.kluis-screen p, .kluis-request', { timeout: 15000 });
    assertEq(await page.locator(`.kluis-request[data-request="${st.id}"]`).count(), 0, 'request answered');
  }, { after: ['flow: dossier view and adding a note (encrypted in the browser, signature verified)'], needs: [['POST', '/v1/requests'], ['GET', '/v1/citizens/x/requests'], ['POST', '/v1/citizens/x/grants']] });

  await test('flow: a request declined', async () => {
    const s = ctx.carla;
    const st = { type: 'request', id: kc.newId('rq'), signer: s.id, issued: Math.floor(Date.now() / 1000), citizen: CITIZEN, sections: ['schulden'], access: 'write', purpose: 'schuldhulp', days: 90 };
    await api.post('/requests', kc.signStatement(st, s.keys.signSk), s.token);
    await nav('requests');
    await waitH1('Verzoeken');
    await page.waitForSelector(`.kluis-request[data-request="${st.id}"]`, { timeout: 15000 });
    await page.click(`.kluis-request[data-request="${st.id}"] button.utrecht-button--secondary-action`);
    await page.waitForSelector('.utrecht-alert--ok', { timeout: 15000 });
    assert(/geweigerd/.test(await page.locator('.utrecht-alert--ok').textContent()), 'declined message');
  }, { after: ['flow: enrol with the code from the municipality (keys and Argon2id in the browser)'], needs: [['POST', '/v1/citizens/x/requests/r/decline']] });

  await test('flow: an emergency override is shown prominently; its sections are rotated at the next login', async () => {
    const a = await adminSession();
    const reg = async (id, role, name) => {
      const keys = kc.newKeys();
      await api.post('/principals', { id, role, display_name: name, organisation: 'Gemeente Voorbeeldstad', sign_pk: kc.b64(keys.signPk), box_pk: kc.b64(keys.boxPk) }, a.token);
      return V.loginWithKeys(id, keys);
    };
    const mayor = await reg('burgemeester', 'mayor', 'De burgemeester');
    const officer = await reg('fg-dirk', 'officer', 'Dirk (FG)');
    const now = () => Math.floor(Date.now() / 1000);
    const ovr = { type: 'override', id: kc.newId('ov'), signer: mayor.id, issued: now(), citizen: CITIZEN, sections: ['plan'], beneficiary: 'wijk-anna',
      ground: 'acuut-gevaar', justification: 'De inwoner is sinds gisteren vermist en heeft gedreigd zichzelf iets aan te doen.', hours: 24 };
    const env = kc.signStatement(ovr, mayor.keys.signSk);
    await api.post('/overrides', env, mayor.token);
    const appr = { type: 'override-approval', id: kc.newId('oa'), signer: officer.id, issued: now(), override: ovr.id,
      statement_hash: kc.b64(kc.sodium.crypto_generichash(32, kc.unb64(env.statement), null)) };
    await api.post(`/overrides/${ovr.id}/approve`, kc.signStatement(appr, officer.keys.signSk), officer.token);
    // The mayor's office removes the inner layer with the authority key and wraps for Anna.
    const esc = await api.get(`/overrides/${ovr.id}/escrow`, mayor.token);
    const authSk = kc.unb64(vault.authorityKey.secret, 32);
    const wraps = esc.items.map((it) => {
      const st = kc.peekStatement(it);
      const dek = kc.openSealed(kc.unb64(it.inner), authSk);
      assert(kc.equal(kc.keyCommit(dek, CITIZEN, it.section, it.epoch), kc.unb64(st.commit, 32)), 'escrowed key matches its commitment');
      return { section: it.section, epoch: it.epoch, wrap: kc.b64(kc.wrap(dek, ctx.anna.keys.boxPk)) };
    });
    await api.post(`/overrides/${ovr.id}/wraps`, { wraps }, mayor.token);
    await V.loadDossier(ctx.anna, CITIZEN, ctx.citizenSignPk);
    await V.loadEntries(ctx.anna, CITIZEN, 'plan', ctx.citizenSignPk);
    // The notice (issue 6): the mayor's ground and justification, the professional, the period —
    // prominently on the screen the citizen lands on, and on the journal screen.
    const sel = `.kluis-override[data-override="${ovr.id}"]`;
    const dayNl = (secs) => new Date(secs * 1000).toLocaleString('nl-NL', { day: 'numeric', month: 'long', year: 'numeric' });
    const checkNotice = async (where) => {
      await page.waitForSelector(sel, { timeout: 15000 });
      const notice = await page.locator(sel).textContent();
      const row = async (k) => (await page.locator(`${sel} .utrecht-data-list__item:has(dt:text-is("${k}")) dd`).textContent()).trim();
      assert(/noodtoegang/i.test(notice) && /De burgemeester/.test(notice), `${where}: notice: ${notice}`);
      assertEq(await row('Reden'), 'Acuut gevaar voor leven of gezondheid van de inwoner of anderen', `${where}: the mayor's ground (charter title)`);
      assertEq(await row('Onderbouwing'), ovr.justification, `${where}: the justification`);
      assertEq(await row('Voor wie'), 'Anna de Vries (Wijkteam Noord)', `${where}: the professional`);
      const period = await row('Periode');
      assert(period.includes(' tot ') && period.includes(dayNl(now() + 24 * 3600)), `${where}: the period until the expiry: ${period}`);
      assert(/open tot/.test(await row('Stand')), `${where}: shown as open`);
    };
    await nav('dossier');
    await waitH1('Mijn dossier');
    await checkNotice('dossier');
    assert(await page.locator(`#main .kluis-screen > :first-child${sel}`).count() === 1, 'the notice comes first on the dossier screen');
    await axe('dossier-override');
    await nav('journal');
    await waitH1('Wie keek er mee');
    await checkNotice('journal');
    await axe('journal-override');
    const close = { type: 'override-close', id: kc.newId('oc'), signer: mayor.id, issued: now(), override: ovr.id, reason: 'De inwoner is gevonden.' };
    await api.post(`/overrides/${ovr.id}/close`, kc.signStatement(close, mayor.keys.signSk), mayor.token);
    // At the next login the page rotates the opened sections.
    const before = (await V.loadDossier(ctx.anna, CITIZEN, ctx.citizenSignPk).catch(() => null))?.sections.find((x) => x.section === 'plan')?.current_epoch;
    await page.click('#logout');
    await waitH1('Inloggen');
    const inputs = page.locator('#login-form input');
    await inputs.nth(0).fill(CITIZEN);
    await inputs.nth(1).fill(PASS);
    await page.click('#login-form button[type=submit]');
    await waitH1('Mijn dossier', page, 60000);
    const me = await V.loginWithPassphrase(CITIZEN, PASS, async (p, salt, o, m) => kc.pwhash(p, salt, o, m));
    const d = await V.loadDossier(me);
    const after = d.sections.find((x) => x.section === 'plan').current_epoch;
    await V.logout(me);
    assert(before === undefined || after > before, `plan rotated after the override: ${before} → ${after}`);
    const j = await V.loadJournal(await V.loginWithPassphrase(CITIZEN, PASS, async (p, salt, o, m) => kc.pwhash(p, salt, o, m)));
    assert(j.events.some((e) => e.action === 'rotate' && e.section === 'plan'), 'a rotation of plan in the journal');
    await page.waitForSelector(`${sel}[data-state="closed"]`, { timeout: 15000 });
    assert(/beëindigd door De burgemeester/.test(await page.locator(sel).textContent()), 'after close: ended, and by whom');
  }, { after: ['flow: the professional reads and decrypts the note under the grant'], needs: [['POST', '/v1/overrides'], ['GET', '/v1/overrides/o/escrow']] });

  await test('flow: my data — decrypted JSON and printable HTML downloads', async () => {
    await nav('data');
    await waitH1('Mijn gegevens');
    await axe('my-data');
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), page.click('#export-json')]);
    const json = JSON.parse(readFileSync(await dl.path(), 'utf8'));
    const plan = json.sections.find((x) => x.section === 'plan');
    assert(plan.entries.some((e) => e.title === 'Mijn doelen' && e.verified && /schulden/.test(e.body)), 'decrypted note in the JSON');
    const [dl2] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), page.click('#export-html')]);
    const html = readFileSync(await dl2.path(), 'utf8');
    assert(/<!doctype html>/i.test(html) && html.includes('Mijn doelen') && !/<script/i.test(html), 'printable html');
  }, { after: ['flow: dossier view and adding a note (encrypted in the browser, signature verified)'] });

  await test('flow: logout, then log in again with the passphrase (bundle path)', async () => {
    await page.click('#logout');
    await waitH1('Inloggen');
    assert(/uitgelogd/.test(await page.locator('main').textContent()), 'logged-out message');
    assert(await page.isHidden('#logout'), 'logout button hidden');
    const inputs = page.locator('#login-form input');
    await inputs.nth(0).fill(CITIZEN);
    await inputs.nth(1).fill('niet de goede wachtwoordzin hoor');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#login-form .utrecht-alert--error', { timeout: 30000 });
    await axe('login-failed');
    await inputs.nth(1).fill(PASS);
    await page.click('#login-form button[type=submit]');
    await waitH1('Mijn dossier', page, 60000);
    if (done.has('flow: dossier view and adding a note (encrypted in the browser, signature verified)')) await page.waitForSelector('.kluis-entry h3:text("Mijn doelen")', { timeout: 15000 });
  }, { after: ['flow: enrol with the code from the municipality (keys and Argon2id in the browser)'], needs: [['POST', '/v1/auth/prelogin'], ['POST', '/v1/auth/bundle']] });

  await test('flow: erase a section (crypto-shred)', async () => {
    await nav('data');
    await waitH1('Mijn gegevens');
    await page.selectOption('#erase-form select', 'wonen');
    await page.click('#erase-form button[type=submit]');
    assert(await page.locator('#erase-form .utrecht-alert--error').count() === 1, 'needs the confirmation');
    await page.check('#erase-form input[type=checkbox]');
    await page.click('#erase-form button[type=submit]');
    await page.waitForSelector('.utrecht-alert--ok', { timeout: 15000 });
    assert(/gewist/.test(await page.locator('.utrecht-alert--ok').textContent()), 'erased message');
  }, { after: ['flow: enrol with the code from the municipality (keys and Argon2id in the browser)'], needs: [['DELETE', '/v1/citizens/x/sections/y']] });

  await test('flow: idle timeout logs out and wipes the session', async () => {
    await page.goto(`${vault.base}?idle=10#/login`);
    await ready();
    const inputs = page.locator('#login-form input');
    await inputs.nth(0).fill(CITIZEN);
    await inputs.nth(1).fill(PASS);
    await page.click('#login-form button[type=submit]');
    await waitH1('Mijn dossier', page, 60000);
    await page.waitForSelector('#idle-warning', { timeout: 15000 });
    await axe('idle-warning');
    await waitH1('Inloggen', page, 20000);
    assert(/automatisch uitgelogd/.test(await page.locator('main').textContent()), 'idle message');
  }, { after: ['flow: logout, then log in again with the passphrase (bundle path)'] });

  await test('flow: change the passphrase (current one checked, strength meter, warning), then log in with the new one', async () => {
    await page.goto(`${vault.base}#/login`);
    await ready();
    let inputs = page.locator('#login-form input');
    await inputs.nth(0).fill(CITIZEN);
    await inputs.nth(1).fill(PASS);
    await page.click('#login-form button[type=submit]');
    await waitH1('Mijn dossier', page, 60000);
    await nav('passphrase');
    await waitH1('Wachtwoordzin wijzigen');
    const warn = await page.locator('#passphrase-form .utrecht-alert--warning').textContent();
    assert(/niemand kan uw wachtwoordzin herstellen/i.test(warn), 'the same plain warning as at enrolment');
    const pw = page.locator('#passphrase-form input[type=password]');
    await pw.nth(1).fill('abc');
    const weak = await page.locator('#passphrase-form .kluis-meter-text').textContent();
    await page.click('#passphrase-form button[type=submit]');
    assert(await page.locator('#passphrase-form [aria-invalid="true"]').count() >= 2, 'errors: no current passphrase, too weak');
    await axe('passphrase-errors');
    await pw.nth(0).fill('dit is niet mijn wachtwoordzin');
    await pw.nth(1).fill(PASS2);
    await pw.nth(2).fill(PASS2);
    const strong = await page.locator('#passphrase-form .kluis-meter-text').textContent();
    assert(weak !== strong && /Sterk|Goed/.test(strong), `meter: ${weak} → ${strong}`);
    await page.check('#passphrase-form input[type=checkbox]');
    await page.click('#passphrase-form button[type=submit]');
    await page.waitForFunction(() => /niet uw huidige/.test(document.querySelector('#passphrase-form')?.textContent || ''), null, { timeout: 60000 });
    await pw.nth(0).fill(PASS);
    await page.click('#passphrase-form button[type=submit]');
    await waitH1('Mijn dossier', page, 60000);
    assert(/wachtwoordzin is gewijzigd/.test(await page.locator('main .utrecht-alert--ok').first().textContent()), 'changed message');
    await page.click('#logout');
    await waitH1('Inloggen');
    inputs = page.locator('#login-form input');
    await inputs.nth(0).fill(CITIZEN);
    await inputs.nth(1).fill(PASS);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#login-form .utrecht-alert--error', { timeout: 60000 });
    await inputs.nth(1).fill(PASS2);
    await page.click('#login-form button[type=submit]');
    await waitH1('Mijn dossier', page, 60000);
    const j = await V.loadJournal(await V.loginWithPassphrase(CITIZEN, PASS2, async (p, salt, o, m) => kc.pwhash(p, salt, o, m)));
    assert(j.events.some((e) => e.action === 'passphrase'), 'the change is in the journal');
  }, { after: ['flow: logout, then log in again with the passphrase (bundle path)'], needs: [['POST', '/v1/citizens/x/passphrase']] });

  await test('browser: no CSP violations or script errors in the whole run', async () => {
    assert(!problems.filter((p) => !/status of 40[0-9]|Failed to load resource/.test(p)).length, problems.join('\n'));
    assert(!external.length, external.join(', '));
  });
} finally {
  await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  await vault.stop();
}

console.log(`# screenshots in ${shots}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
