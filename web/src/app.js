// web/src/app.js — the citizen's page: screens, forms and the session, over vault.js.
//
// The session (keys, section keys, token) lives in this module's memory only: never in storage,
// never in a cookie. A reload, the logout button, or the idle timer ends it and wipes the keys.
// The only things kept in localStorage are the language and, per citizen, the length and head of
// the journal seen last time (so a journal that got shorter is noticed).
import { h, clear, append, nextId, download } from './dom.js';
import { t, lang, setLang, initLang, fmtDate, listJoin } from './i18n.js';
import * as api from './api.js';
import * as kc from './crypto.js';
import * as V from './vault.js';

const app = {
  vault: null,     // GET /v1/vault
  charter: null,   // GET /v1/charter
  s: null,         // the session (vault.js), or null
  flash: null,     // {kind, text} shown once on the next screen
  dossier: null,   // the last loaded dossier model
  pendingGrant: null, // a request being approved: prefilled give-access form
  idleMs: 15 * 60 * 1000,
  lastActive: Date.now(),
};

const $ = (id) => document.getElementById(id);
const main = () => $('main');

// ---- small UI building blocks ------------------------------------------------------------------

function alertBox(kind, ...content) {
  return h('div', { class: `utrecht-alert utrecht-alert--${kind} kluis-alert`, role: kind === 'error' || kind === 'warning' ? 'alert' : 'status' },
    h('div', { class: 'utrecht-alert__content' }, h('div', { class: 'utrecht-alert__message' }, ...content)));
}

const para = (text, attrs = {}) => h('p', { class: 'utrecht-paragraph', ...attrs }, text);
const button = (text, attrs = {}, kind = 'primary-action') => h('button', { type: 'button', class: `utrecht-button utrecht-button--${kind}`, ...attrs }, text);
const heading = (level, text, attrs = {}) => h(`h${level}`, { class: `utrecht-heading-${level}`, ...attrs }, text);

function announce(text) {
  const st = $('status');
  st.textContent = '';
  setTimeout(() => { st.textContent = text; }, 50);
}

/** A labelled form field in NL Design System markup; returns {el, input, error(msg)}. */
function field({ label, type = 'text', hint, value, autocomplete, required = true, multiline = false, attrs = {} }) {
  const id = nextId('f');
  const hintId = hint ? `${id}-hint` : null;
  const errId = `${id}-err`;
  const input = multiline
    ? h('textarea', { id, class: 'utrecht-textarea utrecht-textarea--html-textarea', rows: 5, required, ...attrs })
    : h('input', { id, type, class: `utrecht-textbox utrecht-textbox--html-input${type === 'password' ? ' utrecht-textbox--password' : ''}`, autocomplete, required, spellcheck: type === 'password' ? 'false' : undefined, ...attrs });
  if (value !== undefined) input.value = value;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  const err = h('p', { class: 'utrecht-form-field__error-message utrecht-form-field-error-message', id: errId, hidden: true });
  const el = h('div', { class: 'utrecht-form-field utrecht-form-field--text' },
    h('div', { class: 'utrecht-form-field__label' }, h('label', { class: 'utrecht-form-label', for: id }, label)),
    hint ? h('div', { class: 'utrecht-form-field__description utrecht-form-field-description', id: hintId }, hint) : null,
    err,
    h('div', { class: 'utrecht-form-field__input' }, input));
  return {
    el, input,
    error(msg) {
      err.hidden = !msg;
      err.textContent = msg || '';
      el.classList.toggle('utrecht-form-field--invalid', !!msg);
      input.classList.toggle(multiline ? 'utrecht-textarea--invalid' : 'utrecht-textbox--invalid', !!msg);
      if (msg) {
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', [hintId, errId].filter(Boolean).join(' '));
      } else {
        input.removeAttribute('aria-invalid');
        if (hintId) input.setAttribute('aria-describedby', hintId); else input.removeAttribute('aria-describedby');
      }
      return !msg;
    },
  };
}

function checkbox(label, { checked = false, value, name } = {}) {
  const id = nextId('c');
  const input = h('input', { type: 'checkbox', id, class: 'utrecht-checkbox utrecht-checkbox--html-input', checked, value, name });
  const el = h('div', { class: 'utrecht-form-field utrecht-form-field--checkbox' },
    h('div', { class: 'utrecht-form-field__input' }, input),
    h('div', { class: 'utrecht-form-field__label' }, h('label', { class: 'utrecht-form-label utrecht-form-label--checkbox', for: id }, label)));
  return { el, input };
}

function radio(label, { name, value, checked = false, description } = {}) {
  const id = nextId('r');
  const descId = description ? `${id}-d` : undefined;
  const input = h('input', { type: 'radio', id, name, value, class: 'utrecht-radio-button utrecht-radio-button--html-input', checked, 'aria-describedby': descId });
  const el = h('div', { class: 'utrecht-form-field utrecht-form-field--radio' },
    h('div', { class: 'utrecht-form-field__input' }, input),
    h('div', { class: 'utrecht-form-field__label' }, h('label', { class: 'utrecht-form-label utrecht-form-label--radio', for: id }, label)),
    description ? h('div', { class: 'utrecht-form-field__description utrecht-form-field-description', id: descId }, description) : null);
  return { el, input };
}

function fieldset(legend, children, { hint, error } = {}) {
  const hintId = hint ? nextId('h') : undefined;
  const errEl = h('p', { class: 'utrecht-form-field-error-message', id: nextId('e'), hidden: true });
  const fs = h('fieldset', { class: 'utrecht-form-fieldset__fieldset utrecht-form-fieldset--html-fieldset', 'aria-describedby': hintId },
    h('legend', { class: 'utrecht-form-fieldset__legend utrecht-form-fieldset__legend--html-legend' }, legend),
    hint ? h('p', { class: 'utrecht-form-field-description', id: hintId }, hint) : null,
    errEl, children);
  const el = h('div', { class: 'utrecht-form-fieldset kluis-fieldset' }, fs);
  return {
    el, fs,
    error(msg) {
      errEl.hidden = !msg; errEl.textContent = msg || '';
      fs.setAttribute('aria-describedby', [hintId, msg ? errEl.id : null].filter(Boolean).join(' ') || '');
      if (!fs.getAttribute('aria-describedby')) fs.removeAttribute('aria-describedby');
      el.classList.toggle('utrecht-form-fieldset--invalid', !!msg);
      return !msg;
    },
  };
}

function select(label, options, { value, hint } = {}) {
  const id = nextId('s');
  const hintId = hint ? `${id}-hint` : undefined;
  const input = h('select', { id, class: 'utrecht-select utrecht-select--html-select', 'aria-describedby': hintId },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
  const el = h('div', { class: 'utrecht-form-field' },
    h('div', { class: 'utrecht-form-field__label' }, h('label', { class: 'utrecht-form-label', for: id }, label)),
    hint ? h('div', { class: 'utrecht-form-field-description', id: hintId }, hint) : null,
    h('div', { class: 'utrecht-form-field__input' }, input));
  return { el, input };
}

function dataList(rows) {
  return h('dl', { class: 'utrecht-data-list utrecht-data-list--rows kluis-dl' },
    rows.filter(Boolean).map(([k, v]) => h('div', { class: 'utrecht-data-list__item' },
      h('dt', { class: 'utrecht-data-list__item-key' }, k),
      h('dd', { class: 'utrecht-data-list__item-value utrecht-data-list__item-value--html-dd' }, v))));
}

function badge(state) {
  const kind = { active: 'safe', pending: 'neutral', expired: 'inactive', revoked: 'danger' }[state] || 'neutral';
  return h('span', { class: `utrecht-status-badge utrecht-status-badge--${kind}` }, t(`state.${state}`));
}

/** A busy indicator with elapsed seconds; returns stop(). */
function busy(container, text) {
  const secs = h('span', { class: 'kluis-busy-time' }, '');
  const box = h('div', { class: 'kluis-busy', role: 'status' },
    h('progress', { class: 'kluis-progress', 'aria-label': text }),
    h('p', { class: 'utrecht-paragraph' }, text, ' ', h('span', { 'aria-hidden': 'true' }, secs)));
  container.append(box);
  const t0 = Date.now();
  const iv = setInterval(() => { secs.textContent = `(${t('login.busy.time', { s: Math.round((Date.now() - t0) / 1000) })})`; }, 1000);
  return () => { clearInterval(iv); box.remove(); };
}

function errorText(e) {
  if (e instanceof api.ApiError) {
    if (e.status === 0) return t('error.network');
    if (e.status === 404 && e.code === 'not_found') return t('error.unavailable');
    return t('error.generic', { msg: e.message || e.code });
  }
  return t('error.generic', { msg: e && e.message ? e.message : String(e) });
}

// ---- names from the charter and the directory --------------------------------------------------

const en = () => lang() === 'en';
const sectionTitle = (id) => {
  const s = app.charter?.sections?.find((x) => x.id === id);
  return s ? (en() && s.title_en ? s.title_en : s.title) : id;
};
const purposeOf = (id) => app.charter?.purposes?.find((p) => p.id === id);
const purposeTitle = (id) => {
  const p = purposeOf(id);
  return p ? (en() && p.title_en ? p.title_en : p.title) : id;
};
const groundTitle = (id) => {
  const g = app.charter?.override?.grounds?.find((x) => x.id === id);
  return g ? (en() && g.title_en ? g.title_en : g.title) : id;
};
function personName(id) {
  if (app.s && id === app.s.id) return t('dossier.you');
  const p = app.s?.dir.get(id);
  return p ? (p.organisation ? `${p.display_name} (${p.organisation})` : p.display_name) : id;
}

// ---- Argon2id in a Web Worker ------------------------------------------------------------------

function pwhashInWorker(passphrase, salt, opslimit, memlimit) {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./argon-worker.js', import.meta.url), { type: 'module', name: 'argon2id' });
    w.onmessage = (e) => {
      if (e.data && e.data.ready) { w.postMessage({ passphrase, salt, opslimit, memlimit }); return; }
      w.terminate();
      if (e.data && e.data.master) resolve(new Uint8Array(e.data.master)); else reject(new Error(e.data?.error || 'argon2id failed'));
    };
    w.onerror = (e) => { w.terminate(); reject(new Error(e.message || 'worker failed')); };
  });
}

// ---- session, idle timeout ---------------------------------------------------------------------

async function startSession(s, message) {
  app.s = s;
  app.lastActive = Date.now();
  const ttl = (app.charter?.sessions?.ttl_minutes || 30) * 60 * 1000;
  const q = new URLSearchParams(location.search).get('idle');
  app.idleMs = q && Number(q) >= 10 ? Number(q) * 1000 : Math.min(15 * 60 * 1000, ttl);
  try { await V.loadDirectory(s); } catch { /* names fall back to ids */ }
  app.flash = message ? { kind: 'ok', text: message } : null;
  await rotateAfterOverrides().catch(() => {});
  go('dossier');
}

async function endSession(reason) {
  const s = app.s;
  app.s = null;
  app.dossier = null;
  app.pendingGrant = null;
  $('idle-warning')?.remove();
  if (s) await V.logout(s);
  app.flash = { kind: reason === 'logout' ? 'ok' : 'info', text: t(`login.ended.${reason}`) };
  go('login', true);
}

function touch() { app.lastActive = Date.now(); }

function idleTick() {
  if (!app.s) return;
  const left = app.idleMs - (Date.now() - app.lastActive);
  const serverLeft = app.s.expires ? app.s.expires * 1000 - Date.now() : Infinity;
  if (left <= 0) { endSession('idle'); return; }
  if (serverLeft <= 0) { endSession('expired'); return; }
  let warn = $('idle-warning');
  if (left <= 60 * 1000) {
    const text = t('idle.warn', { s: Math.ceil(left / 1000) });
    if (!warn) {
      warn = h('div', { id: 'idle-warning', class: 'kluis-idle' },
        alertBox('warning', h('span', { id: 'idle-text' }, text), ' ',
          button(t('idle.stay'), { onclick: () => { touch(); $('idle-warning')?.remove(); } }, 'secondary-action')));
      document.querySelector('.kluis-page').insertBefore(warn, $('main'));
    } else {
      $('idle-text').textContent = text;
    }
  } else if (warn) {
    warn.remove();
  }
}

/** Any call that finds the session gone on the server ends it here too. */
async function guarded(fn) {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 401 && app.s) {
      await endSession('expired');
      throw Object.assign(new Error('session ended'), { handled: true });
    }
    throw e;
  }
}

// ---- routing -----------------------------------------------------------------------------------

const PUBLIC = ['login', 'enrol', 'charter'];
const PRIVATE = ['dossier', 'access', 'give', 'requests', 'journal', 'data', 'passphrase', 'charter'];
const SCREENS = { login: screenLogin, enrol: screenEnrol, charter: screenCharter, dossier: screenDossier, access: screenAccess, give: screenGive, requests: screenRequests, journal: screenJournal, data: screenData, passphrase: screenPassphrase };

function route() {
  const r = location.hash.replace(/^#\/?/, '');
  const allowed = app.s ? PRIVATE : PUBLIC;
  if (allowed.includes(r)) return r;
  return app.s ? 'dossier' : 'login';
}

function go(name, replace = false) {
  const target = `#/${name}`;
  if (location.hash === target) render(true);
  else if (replace) { history.replaceState(null, '', target); render(true); } else location.hash = target;
}

function renderChrome(current) {
  $('origin').textContent = app.vault ? app.vault.origin : '';
  const langBtn = $('lang');
  langBtn.textContent = t('lang.switch');
  langBtn.setAttribute('lang', lang() === 'nl' ? 'en' : 'nl');
  langBtn.setAttribute('aria-label', t('lang.switch.label'));
  const out = $('logout');
  out.hidden = !app.s;
  out.textContent = t('logout');
  $('who').textContent = app.s ? t('who', { id: app.s.id }) : '';
  $('skip').textContent = t('skip');
  $('footer-text').textContent = t('footer');
  const nav = clear($('nav'));
  nav.setAttribute('aria-label', t('nav.label'));
  const items = app.s ? ['dossier', 'access', 'give', 'requests', 'journal', 'data', 'passphrase', 'charter'] : ['login', 'enrol', 'charter'];
  nav.append(h('ul', { class: 'kluis-nav-list' }, items.map((n) =>
    h('li', { class: 'kluis-nav-item' }, h('a', {
      class: 'utrecht-link kluis-nav-link', href: `#/${n}`, 'aria-current': n === current ? 'page' : undefined,
      // The current screen's link reloads its data (no hashchange fires for the same hash).
      onclick: (ev) => { if (location.hash === `#/${n}`) { ev.preventDefault(); render(true); } },
    }, t(`nav.${n}`))))));
}

let renderSeq = 0;
async function render(focus = true) {
  const name = route();
  const seq = ++renderSeq;
  renderChrome(name);
  const m = clear(main());
  const title = t(name === 'requests' ? 'req.title' : `${name}.title`);
  const h1 = heading(1, title, { tabindex: '-1', id: 'page-title' });
  m.append(h1);
  document.title = `${title} — Kluis`;
  if (app.flash) { m.append(alertBox(app.flash.kind, app.flash.text)); app.flash = null; }
  const body = h('div', { class: 'kluis-screen' });
  m.append(body);
  if (focus) h1.focus();
  try {
    await SCREENS[name](body, () => seq === renderSeq);
  } catch (e) {
    if (!e.handled && seq === renderSeq) body.append(alertBox('error', errorText(e)));
  }
}

// ---- screen: login -----------------------------------------------------------------------------

function screenLogin(body) {
  body.append(para(t('login.intro')));
  const id = field({ label: t('login.id'), hint: t('login.id.hint'), autocomplete: 'username', attrs: { name: 'username', autocapitalize: 'none' } });
  const pass = field({ label: t('login.pass'), type: 'password', autocomplete: 'current-password', attrs: { name: 'password' } });
  const submit = h('button', { type: 'submit', class: 'utrecht-button utrecht-button--primary-action utrecht-button--submit' }, t('login.submit'));
  const msg = h('div', { class: 'kluis-msg' });
  const form = h('form', { class: 'utrecht-form kluis-form', novalidate: true, id: 'login-form' }, id.el, pass.el, h('div', { class: 'utrecht-button-group' }, submit), msg);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(msg);
    const ok = id.error(kc.ID_RE.test(id.input.value.trim()) ? '' : t('enrol.err.id')) & pass.error(pass.input.value ? '' : t('login.failed'));
    if (!ok) { (id.input.getAttribute('aria-invalid') ? id.input : pass.input).focus(); return; }
    submit.disabled = true;
    const stop = busy(msg, t('login.busy'));
    try {
      const s = await V.loginWithPassphrase(id.input.value.trim(), pass.input.value, pwhashInWorker);
      pass.input.value = '';
      stop();
      await startSession(s);
    } catch (e) {
      stop();
      submit.disabled = false;
      let text = errorText(e);
      if (e instanceof api.ApiError && (e.code === 'bad_credentials' || e.code === 'unauthenticated' || e.code === 'bad_signature' || e.code === 'not_found')) text = t('login.failed');
      else if (e instanceof api.ApiError && e.code === 'rate_limited') text = t('login.locked', { min: Math.max(1, Math.ceil((e.retryAfter || 900) / 60)) });
      else if (!(e instanceof api.ApiError)) text = t('login.failed');
      msg.append(alertBox('error', text));
      pass.input.focus();
    }
  });
  body.append(form, para([t('login.noaccount'), h('a', { class: 'utrecht-link', href: '#/enrol' }, t('nav.enrol'))]));
}

// ---- screen: enrolment -------------------------------------------------------------------------

const COMMON = ['wachtwoord', 'password', 'welkom', 'qwerty', 'azerty', '123456', 'geheim', 'letmein', 'iloveyou', 'voorbeeldstad', 'kluis'];

/** A plain strength estimate, 0..4: length and variety, words, and no common or repeated patterns. */
export function strength(p) {
  if (!p) return 0;
  const lower = p.toLowerCase();
  let pool = 0;
  if (/[a-z]/.test(p)) pool += 26;
  if (/[A-Z]/.test(p)) pool += 26;
  if (/[0-9]/.test(p)) pool += 10;
  if (/[^a-zA-Z0-9]/.test(p)) pool += 33;
  let bits = p.length * Math.log2(Math.max(pool, 2));
  const words = p.trim().split(/\s+/).filter((w) => w.length >= 3);
  if (words.length >= 4) bits = Math.max(bits, words.length * 13);
  if (COMMON.some((c) => lower.includes(c))) bits -= 25;
  if (/(.)\1\1/.test(p)) bits -= 10;
  if (new Set(p).size < p.length / 3) bits -= 20;
  if (p.length < 10) bits = Math.min(bits, 30);
  if (bits < 35) return p.length < 8 ? 0 : 1;
  if (bits < 50) return 1;
  if (bits < 65) return 2;
  if (bits < 85) return 3;
  return 4;
}

/**
 * The new-passphrase part of a form, the same for enrolment and a passphrase change: the field
 * with its strength meter, the repeat field, the plain warning that nobody can recover it, and
 * the "I understand" check. check() marks every problem and returns the first field at fault.
 */
function newPassphrase({ label = t('enrol.pass') } = {}) {
  const pass = field({ label, type: 'password', hint: t('enrol.pass.hint'), autocomplete: 'new-password' });
  const meterId = nextId('m');
  const meterText = h('span', { id: `${meterId}-t`, class: 'kluis-meter-text' }, t('strength.0'));
  const meter = h('meter', { id: meterId, min: 0, max: 4, low: 2, high: 3, optimum: 4, value: 0, class: 'kluis-meter', 'aria-labelledby': `${meterId}-l`, 'aria-describedby': `${meterId}-t` });
  const meterBox = h('div', { class: 'kluis-strength' }, h('span', { id: `${meterId}-l`, class: 'utrecht-form-label' }, t('enrol.strength')), ' ', meter, ' ', meterText);
  pass.el.append(meterBox);
  pass.input.addEventListener('input', () => {
    const sc = strength(pass.input.value);
    meter.value = sc;
    meterText.textContent = t(`strength.${sc}`);
  });
  const pass2 = field({ label: t('enrol.pass2'), type: 'password', autocomplete: 'new-password' });
  const warn = alertBox('warning', h('strong', {}, t('enrol.warn.title')), h('br'), t('enrol.warn'));
  warn.setAttribute('role', 'note');
  const understand = checkbox(t('enrol.understand'));
  const understandErr = h('p', { class: 'utrecht-form-field-error-message', id: nextId('e'), hidden: true });
  understand.el.prepend(understandErr);
  return {
    pass, pass2,
    els: [pass.el, pass2.el, warn, understand.el],
    check() {
      let first = null;
      if (!pass.error(strength(pass.input.value) >= 2 ? '' : t('enrol.err.weak'))) first = pass.input;
      if (!pass2.error(pass2.input.value === pass.input.value ? '' : t('enrol.err.match')) && !first) first = pass2.input;
      const und = understand.input.checked;
      understandErr.hidden = und;
      understandErr.textContent = und ? '' : t('enrol.err.understand');
      if (!und) understand.input.setAttribute('aria-describedby', understandErr.id); else understand.input.removeAttribute('aria-describedby');
      if (!und && !first) first = understand.input;
      return first;
    },
    clear() { pass.input.value = ''; pass2.input.value = ''; },
  };
}

function screenEnrol(body) {
  body.append(para(t('enrol.intro')));
  const id = field({ label: t('enrol.id'), hint: t('login.id.hint'), autocomplete: 'username', attrs: { autocapitalize: 'none' } });
  const code = field({ label: t('enrol.code'), hint: t('enrol.code.hint'), autocomplete: 'one-time-code', attrs: { autocapitalize: 'none', spellcheck: 'false' } });
  const np = newPassphrase();
  const pass = np.pass;
  const submit = h('button', { type: 'submit', class: 'utrecht-button utrecht-button--primary-action utrecht-button--submit' }, t('enrol.submit'));
  const msg = h('div', { class: 'kluis-msg' });
  const form = h('form', { class: 'utrecht-form kluis-form', novalidate: true, id: 'enrol-form' }, id.el, code.el, ...np.els, h('div', { class: 'utrecht-button-group' }, submit), msg);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(msg);
    const checks = [
      [id, kc.ID_RE.test(id.input.value.trim()) ? '' : t('enrol.err.id')],
      [code, code.input.value.trim() ? '' : t('enrol.err.code')],
    ];
    let first = null;
    for (const [f, m] of checks) if (!f.error(m) && !first) first = f.input;
    const pfirst = np.check();
    if (!first) first = pfirst;
    if (first) { first.focus(); return; }
    submit.disabled = true;
    const stop = busy(msg, t('enrol.busy'));
    try {
      const salt = kc.random(16);
      const opslimit = kc.PWHASH_OPSLIMIT + 1;
      const memlimit = kc.PWHASH_MEMLIMIT;
      const master = await pwhashInWorker(pass.input.value, salt, opslimit, memlimit);
      const s = await V.enroll({ id: id.input.value.trim(), code: code.input.value.trim(), master, salt, opslimit, memlimit, vaultInfo: app.vault, charter: app.charter });
      kc.wipe(master);
      np.clear();
      stop();
      await startSession(s, t('enrol.done'));
    } catch (e) {
      stop();
      submit.disabled = false;
      const bad = e instanceof api.ApiError && ['forbidden', 'bad_credentials', 'not_found', 'conflict', 'unauthenticated'].includes(e.code);
      msg.append(alertBox('error', bad ? t('enrol.err.code.bad') : errorText(e)));
    }
  });
  body.append(form);
}

// ---- screen: change the passphrase -------------------------------------------------------------

function screenPassphrase(body) {
  body.append(para(t('passphrase.intro')));
  const cur = field({ label: t('passphrase.current'), type: 'password', autocomplete: 'current-password' });
  const np = newPassphrase({ label: t('passphrase.new') });
  const submit = h('button', { type: 'submit', class: 'utrecht-button utrecht-button--primary-action utrecht-button--submit' }, t('passphrase.submit'));
  const msg = h('div', { class: 'kluis-msg' });
  const form = h('form', { class: 'utrecht-form kluis-form', novalidate: true, id: 'passphrase-form' }, cur.el, ...np.els, h('div', { class: 'utrecht-button-group' }, submit), msg);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(msg);
    let first = cur.error(cur.input.value ? '' : t('passphrase.err.current')) ? null : cur.input;
    const pfirst = np.check();
    if (!first) first = pfirst;
    if (!first && np.pass.input.value === cur.input.value && !np.pass.error(t('passphrase.err.same'))) first = np.pass.input;
    if (first) { first.focus(); return; }
    submit.disabled = true;
    const stop = busy(msg, t('passphrase.busy'));
    try {
      // The current passphrase first (a wrong one counts toward the lockout, like a login), so an
      // unattended open session cannot be used to lock the citizen out of their own vault.
      if (!(await guarded(() => V.checkPassphrase(app.s, cur.input.value, pwhashInWorker)))) {
        stop();
        submit.disabled = false;
        cur.error(t('passphrase.err.wrong'));
        cur.input.focus();
        return;
      }
      const salt = kc.random(16);
      const opslimit = kc.PWHASH_OPSLIMIT + 1;
      const memlimit = kc.PWHASH_MEMLIMIT;
      const master = await pwhashInWorker(np.pass.input.value, salt, opslimit, memlimit);
      try {
        await guarded(() => V.changePassphrase(app.s, { master, salt, opslimit, memlimit }));
      } finally {
        kc.wipe(master);
      }
      cur.input.value = '';
      np.clear();
      stop();
      app.flash = { kind: 'ok', text: t('passphrase.done') };
      go('dossier');
    } catch (e) {
      stop();
      submit.disabled = false;
      if (e.handled) return;
      const text = e instanceof api.ApiError && e.code === 'rate_limited'
        ? t('login.locked', { min: Math.max(1, Math.ceil((e.retryAfter || 900) / 60)) }) : errorText(e);
      msg.append(alertBox('error', text));
    }
  });
  body.append(form);
}

// ---- screen: charter ---------------------------------------------------------------------------

function screenCharter(body) {
  const c = app.charter;
  if (!c) throw new Error('no charter');
  body.append(para(t('charter.intro')));
  body.append(heading(2, t('charter.principles')));
  if (en()) body.append(para(t('charter.lang.note'), { class: 'utrecht-paragraph kluis-note' }));
  body.append(h('ul', { class: 'utrecht-unordered-list', lang: 'nl' }, (c.principles || []).map((p) => h('li', { class: 'utrecht-unordered-list__item' }, p))));
  body.append(heading(2, t('charter.sections')));
  body.append(h('ul', { class: 'utrecht-unordered-list' }, (c.sections || []).map((s) => h('li', { class: 'utrecht-unordered-list__item' }, sectionTitle(s.id)))));
  body.append(heading(2, t('charter.purposes')));
  for (const p of c.purposes || []) {
    body.append(heading(3, purposeTitle(p.id)),
      para(t('charter.purpose.line', { sections: listJoin(p.sections.map(sectionTitle)), days: p.max_days, write: t(p.write ? 'charter.purpose.write' : 'charter.purpose.read') })));
  }
  const o = c.override;
  if (o) {
    body.append(heading(2, t('charter.override')),
      para(t('charter.override.text', { chars: o.min_justification_chars, approvers: en() ? 'the data protection officer' : 'de functionaris gegevensbescherming', hours: o.max_hours })),
      para(t('charter.override.grounds')),
      h('ul', { class: 'utrecht-unordered-list' }, (o.grounds || []).map((g) => h('li', { class: 'utrecht-unordered-list__item' }, groundTitle(g.id)))));
  }
  if (c.sessions && c.login) body.append(para(t('charter.session', { min: c.sessions.ttl_minutes, n: c.login.max_failures, lock: c.login.lockout_minutes })));
  body.append(para(t('charter.version', { v: c.version, title: c.title }), { class: 'utrecht-paragraph kluis-note' }));
}

// ---- screen: dossier ---------------------------------------------------------------------------

async function loadDossier() {
  const d = await guarded(() => V.loadDossier(app.s));
  const order = new Map((app.charter.sections || []).map((s, i) => [s.id, i]));
  d.sections.sort((a, b) => (order.get(a.section) ?? 99) - (order.get(b.section) ?? 99));
  app.dossier = d;
  return d;
}

async function screenDossier(body, live) {
  body.append(para(t('dossier.intro')));
  const stop = busy(body, t('loading'));
  let d;
  let overrides = [];
  try {
    d = await loadDossier();
    overrides = await loadOverrideNotices();
  } finally { stop(); }
  if (!live()) return;
  // An emergency override is shown prominently where the citizen lands: while it is active and for
  // 30 days after it ended (the journal screen keeps every one).
  const recent = Date.now() / 1000 - 30 * 86400;
  const shown = overrides.filter((o) => o.state === 'active' || (o.closed || 0) > recent);
  if (shown.length) {
    body.prepend(...shown.map(overrideCard));
    body.append(para(h('a', { class: 'utrecht-link', href: '#/journal' }, t('override.more'))));
  }
  const noteBox = h('section', { class: 'kluis-card kluis-add', 'aria-labelledby': 'add-title' });
  const list = h('div', { class: 'kluis-sections' });
  body.append(list, noteBox);
  for (const sec of d.sections) {
    const entries = sec.epochs.length ? await guarded(() => V.loadEntries(app.s, app.s.id, sec.section)) : [];
    if (!live()) return;
    const secId = `sec-${sec.section}`;
    const box = h('section', { class: 'kluis-section', 'aria-labelledby': secId, dataset: { section: sec.section } },
      heading(2, sectionTitle(sec.section), { id: secId }),
      para(entries.length === 1 ? t('dossier.entries.1') : t('dossier.entries', { n: entries.length }), { class: 'utrecht-paragraph kluis-note' }));
    if (!sec.epochs.length) box.append(para(t('dossier.erased')));
    else if (!entries.length) box.append(para(t('dossier.empty')));
    for (const e of entries.slice().reverse()) box.append(entryCard(e));
    list.append(box);
  }
  addNoteForm(noteBox, d);
}

function entryCard(e) {
  if (!e.ok) return h('article', { class: 'kluis-entry kluis-entry--bad' }, alertBox('warning', t('dossier.unverified')));
  const doc = e.doc || {};
  const card = h('article', { class: 'kluis-entry', 'aria-label': doc.title || '' },
    heading(3, doc.title || '—'),
    h('p', { class: 'utrecht-paragraph kluis-meta' },
      t('dossier.by', { who: personName(e.signer) }), ' · ', fmtDate(e.issued, true), ' · ',
      h('span', { class: 'kluis-verified' }, '✓ ', t('dossier.verified'))));
  if (e.corrects) card.append(para(t('dossier.corrects'), { class: 'utrecht-paragraph kluis-note' }));
  if (doc.kind === 'document' && doc.data) {
    if (doc.body) card.append(para(doc.body, { class: 'utrecht-paragraph kluis-body' }));
    card.append(button(t('dossier.download', { name: doc.name || 'document' }), {
      onclick: () => download(doc.name || 'document', kc.unb64(doc.data), doc.mime || 'application/octet-stream'),
    }, 'secondary-action'));
  } else {
    card.append(para(doc.body || '', { class: 'utrecht-paragraph kluis-body' }));
  }
  return card;
}

function addNoteForm(box, d) {
  const open = d.sections.filter((s) => s.epochs.length && app.s.deks.has(`${s.section}#${s.current_epoch}`));
  box.append(heading(2, t('note.title'), { id: 'add-title' }));
  if (!open.length) return;
  const sec = select(t('note.section'), open.map((s) => [s.section, sectionTitle(s.section)]));
  const title = field({ label: t('note.heading') });
  const text = field({ label: t('note.body'), multiline: true, required: false });
  const fileId = nextId('file');
  const file = h('input', { type: 'file', id: fileId, class: 'kluis-file' });
  const fileField = h('div', { class: 'utrecht-form-field' },
    h('div', { class: 'utrecht-form-field__label' }, h('label', { class: 'utrecht-form-label', for: fileId }, t('note.file'))),
    h('div', { class: 'utrecht-form-field__input' }, file));
  const msg = h('div', { class: 'kluis-msg' });
  const submit = h('button', { type: 'submit', class: 'utrecht-button utrecht-button--primary-action utrecht-button--submit' }, t('note.submit'));
  const form = h('form', { class: 'utrecht-form kluis-form', novalidate: true, id: 'note-form' }, sec.el, title.el, text.el, fileField, h('div', { class: 'utrecht-button-group' }, submit), msg);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(msg);
    const f = file.files && file.files[0];
    if (!title.error(title.input.value.trim() ? '' : t('note.err.title'))) { title.input.focus(); return; }
    if (!f && !text.input.value.trim()) { text.error(t('note.err.body')); text.input.focus(); return; }
    text.error('');
    if (f && f.size > 1000000) { msg.append(alertBox('error', t('note.err.big'))); file.focus(); return; }
    submit.disabled = true;
    try {
      const section = sec.input.value;
      const s = d.sections.find((x) => x.section === section);
      const doc = f
        ? { kind: 'document', title: title.input.value.trim(), body: text.input.value, mime: f.type || 'application/octet-stream', name: f.name, data: kc.b64(new Uint8Array(await f.arrayBuffer())) }
        : { kind: 'note', title: title.input.value.trim(), body: text.input.value, mime: 'text/plain' };
      await guarded(() => V.addEntry(app.s, app.s.id, section, s.current_epoch, doc));
      app.flash = { kind: 'ok', text: t('note.done', { section: sectionTitle(section) }) };
      render(true);
    } catch (e) {
      submit.disabled = false;
      if (!e.handled) msg.append(alertBox('error', errorText(e)));
    }
  });
  box.append(form);
}

// ---- screen: who may look (grants) -------------------------------------------------------------

async function screenAccess(body, live) {
  body.append(para(t('access.intro')));
  const stop = busy(body, t('loading'));
  let grants;
  try { grants = await guarded(() => V.loadGrants(app.s)); } finally { stop(); }
  if (!live()) return;
  const order = { active: 0, pending: 1, expired: 2, revoked: 3 };
  grants.sort((a, b) => (order[a.state] ?? 9) - (order[b.state] ?? 9) || (b.not_before || 0) - (a.not_before || 0));
  if (!grants.length) body.append(para(t('access.none')));
  const cards = h('ul', { class: 'kluis-cards' });
  for (const g of grants) cards.append(h('li', {}, grantCard(g)));
  body.append(cards, h('p', { class: 'utrecht-paragraph' }, h('a', { class: 'utrecht-link', href: '#/give' }, t('access.give'))));
}

function grantCard(g) {
  const p = app.s.dir.get(g.grantee);
  const hid = nextId('g');
  const card = h('article', { class: `kluis-card kluis-grant kluis-grant--${g.state}`, 'aria-labelledby': hid, dataset: { grant: g.id } },
    h('div', { class: 'kluis-card-head' }, heading(2, p ? p.display_name : g.grantee, { id: hid }), badge(g.state)),
    p && p.organisation ? para(p.organisation, { class: 'utrecht-paragraph kluis-org' }) : null,
    dataList([
      [t('access.purpose'), purposeTitle(g.purpose)],
      [t('access.sections'), listJoin(g.sections.map(sectionTitle))],
      [t('access.period'), t('access.period.value', { from: fmtDate(g.not_before), until: fmtDate(g.expires) })],
      [t('access.kind'), t(g.access === 'write' ? 'access.write' : 'access.read')],
    ]));
  if (!g.signed) card.append(alertBox('warning', t('access.unsigned')));
  if (g.state === 'active' || g.state === 'pending') {
    const actions = h('div', { class: 'utrecht-button-group kluis-actions' });
    const revoke = button(t('access.revoke'), { 'aria-describedby': hid }, 'secondary-action');
    revoke.addEventListener('click', () => confirmRevoke(card, actions, g, p));
    actions.append(revoke);
    card.append(actions);
  }
  return card;
}

function confirmRevoke(card, actions, g, p) {
  const who = p ? p.display_name : g.grantee;
  const qid = nextId('q');
  const box = h('div', { class: 'kluis-confirm', role: 'group', 'aria-labelledby': qid },
    para(t('access.revoke.confirm', { who }), { id: qid, tabindex: '-1' }));
  const yes = button(t('access.revoke.yes'), {}, 'primary-action utrecht-button--danger');
  const no = button(t('cancel'), {}, 'secondary-action');
  const msg = h('div', { class: 'kluis-msg' });
  box.append(h('div', { class: 'utrecht-button-group' }, yes, no), msg);
  actions.hidden = true;
  card.append(box);
  box.querySelector('p').focus();
  no.addEventListener('click', () => { box.remove(); actions.hidden = false; actions.querySelector('button').focus(); });
  yes.addEventListener('click', async () => {
    yes.disabled = true; no.disabled = true;
    const stop = busy(msg, t('access.revoke.busy'));
    try {
      await guarded(() => V.revokeGrant(app.s, g.id));
      for (const sec of g.sections) await guarded(() => V.rotateSection(app.s, app.vault, sec));
      stop();
      app.flash = { kind: 'ok', text: t('access.revoke.done', { who, sections: listJoin(g.sections.map(sectionTitle)) }) };
      render(true);
    } catch (e) {
      stop();
      if (!e.handled) msg.append(alertBox('error', errorText(e)));
      yes.disabled = false; no.disabled = false;
    }
  });
}

// ---- screen: give access -----------------------------------------------------------------------

async function screenGive(body, live) {
  body.append(para(t('give.intro')));
  const pre = app.pendingGrant;
  app.pendingGrant = null;
  if (!app.s.dir.size) await guarded(() => V.loadDirectory(app.s));
  await loadDossier(); // fresh: a grant must wrap every epoch, including ones made by a rotation
  if (!live()) return;
  const roles = app.charter.grant_roles || ['professional'];
  const people = [...app.s.dir.values()].filter((p) => roles.includes(p.role) && p.active !== false)
    .sort((a, b) => a.display_name.localeCompare(b.display_name));
  if (pre) body.append(alertBox('info', t('give.request', { who: personName(pre.grantee) })));

  // who
  const search = field({ label: t('give.search'), type: 'search', required: false, attrs: { autocomplete: 'off' } });
  const whoList = h('div', { class: 'kluis-people' });
  const noMatch = para(t('give.nomatch'), { hidden: true, role: 'status' });
  const who = fieldset(t('give.who'), [search.el, whoList, noMatch]);
  const whoRadios = people.map((p) => {
    const r = radio(p.display_name, { name: 'grantee', value: p.id, checked: pre && pre.grantee === p.id, description: p.organisation });
    r.el.dataset.search = `${p.display_name} ${p.organisation || ''} ${p.id}`.toLowerCase();
    whoList.append(r.el);
    return r;
  });
  search.input.addEventListener('input', () => {
    const q = search.input.value.trim().toLowerCase();
    let shown = 0;
    for (const r of whoRadios) { const hit = !q || r.el.dataset.search.includes(q); r.el.hidden = !hit; shown += hit; }
    noMatch.hidden = shown > 0;
  });

  // purpose
  const purposes = app.charter.purposes || [];
  const purpose = select(t('give.purpose'), [['', t('give.purpose.choose')], ...purposes.map((p) => [p.id, purposeTitle(p.id)])], { value: pre ? pre.purpose : '' });
  const purposeErr = h('p', { class: 'utrecht-form-field-error-message', id: nextId('e'), hidden: true });
  purpose.el.insertBefore(purposeErr, purpose.el.lastChild);

  // sections, access, duration — depend on the purpose
  const secHolder = h('div');
  const accHolder = h('div');
  const days = field({ label: t('give.days'), type: 'number', attrs: { min: 1, inputmode: 'numeric' } });
  let secBoxes = [];
  let secSet = null;
  let accRadios = [];
  function onPurpose() {
    const p = purposeOf(purpose.input.value);
    clear(secHolder); clear(accHolder);
    secBoxes = []; accRadios = [];
    days.el.hidden = !p;
    if (!p) return;
    secBoxes = p.sections.map((s) => {
      const c = checkbox(sectionTitle(s), { value: s, checked: pre ? pre.sections.includes(s) : true, name: 'sections' });
      return c;
    });
    secSet = fieldset(t('give.sections'), secBoxes.map((c) => c.el), { hint: t('give.sections.hint') });
    secHolder.append(secSet.el);
    const canWrite = !!p.write;
    accRadios = [radio(t('access.read'), { name: 'access', value: 'read', checked: !(pre && pre.access === 'write' && canWrite) })];
    if (canWrite) accRadios.push(radio(t('access.write'), { name: 'access', value: 'write', checked: !!(pre && pre.access === 'write') }));
    accHolder.append(fieldset(t('give.access'), accRadios.map((r) => r.el), { hint: canWrite ? undefined : t('give.write.no') }).el);
    days.input.max = String(p.max_days);
    const want = pre && pre.days ? pre.days : Math.min(90, p.max_days);
    days.input.value = String(Math.min(want, p.max_days));
    const hint = days.el.querySelector('.utrecht-form-field-description');
    if (hint) hint.textContent = t('give.days.hint', { max: p.max_days });
    else {
      const hid = nextId('h');
      days.el.insertBefore(h('div', { class: 'utrecht-form-field__description utrecht-form-field-description', id: hid }, t('give.days.hint', { max: p.max_days })), days.el.children[1]);
      days.input.setAttribute('aria-describedby', hid);
    }
  }
  purpose.input.addEventListener('change', onPurpose);
  onPurpose();

  const msg = h('div', { class: 'kluis-msg' });
  const next = h('button', { type: 'submit', class: 'utrecht-button utrecht-button--primary-action utrecht-button--submit' }, t('give.next'));
  const form = h('form', { class: 'utrecht-form kluis-form', novalidate: true, id: 'give-form' }, who.el, purpose.el, secHolder, accHolder, days.el, h('div', { class: 'utrecht-button-group' }, next), msg);
  const summaryBox = h('section', { class: 'kluis-card kluis-summary', hidden: true, 'aria-labelledby': 'summary-title' });
  body.append(form, summaryBox);

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clear(msg);
    const grantee = whoRadios.find((r) => r.input.checked)?.input.value;
    const p = purposeOf(purpose.input.value);
    const sections = secBoxes.filter((c) => c.input.checked).map((c) => c.input.value);
    const access = accRadios.find((r) => r.input.checked)?.input.value || 'read';
    const n = Number(days.input.value);
    let first = null;
    if (!who.error(grantee ? '' : t('give.err.who'))) first = first || whoRadios[0]?.input || search.input;
    purposeErr.hidden = !!p; purposeErr.textContent = p ? '' : t('give.err.purpose');
    if (!p) { purpose.input.setAttribute('aria-invalid', 'true'); first = first || purpose.input; } else purpose.input.removeAttribute('aria-invalid');
    if (p && !secSet.error(sections.length ? '' : t('give.err.sections'))) first = first || secBoxes[0].input;
    if (p && !days.error(Number.isInteger(n) && n >= 1 && n <= p.max_days ? '' : t('give.err.days', { max: p.max_days }))) first = first || days.input;
    if (first) { first.focus(); return; }
    const person = app.s.dir.get(grantee);
    const until = fmtDate(Math.floor(Date.now() / 1000) + n * 86400);
    clear(summaryBox);
    const sign = button(t('give.sign'));
    const back = button(t('back'), {}, 'secondary-action');
    const smsg = h('div', { class: 'kluis-msg' });
    summaryBox.append(heading(2, t('give.summary.title'), { id: 'summary-title', tabindex: '-1' }),
      para(t('give.summary', {
        who: person.display_name, org: person.organisation || person.role, access: t(access === 'write' ? 'access.write' : 'access.read'),
        sections: listJoin(sections.map(sectionTitle)), purpose: purposeTitle(p.id), until,
      }), { id: 'summary-text' }),
      h('div', { class: 'utrecht-button-group' }, sign, back), smsg);
    form.hidden = true;
    summaryBox.hidden = false;
    summaryBox.querySelector('h2').focus();
    back.addEventListener('click', () => { summaryBox.hidden = true; form.hidden = false; next.focus(); });
    sign.addEventListener('click', async () => {
      sign.disabled = true; back.disabled = true;
      const stop = busy(smsg, t('give.busy', { who: person.display_name }));
      try {
        const fresh = await loadDossier();
        await guarded(() => V.createGrant(app.s, fresh, { grantee, sections, access, purpose: p.id, days: n, request: pre ? pre.request : undefined }));
        stop();
        app.flash = { kind: 'ok', text: t('give.done', { who: person.display_name }) };
        go('access');
      } catch (e) {
        stop();
        sign.disabled = false; back.disabled = false;
        if (!e.handled) smsg.append(alertBox('error', errorText(e)));
      }
    });
  });
}

// ---- screen: requests --------------------------------------------------------------------------

async function screenRequests(body, live) {
  body.append(para(t('req.intro')));
  const stop = busy(body, t('loading'));
  let reqs;
  try { reqs = await guarded(() => V.loadRequests(app.s)); } finally { stop(); }
  if (!live()) return;
  reqs = reqs.filter((r) => !r.state || r.state === 'open' || r.state === 'pending');
  if (!reqs.length) { body.append(para(t('req.none'))); return; }
  const cards = h('ul', { class: 'kluis-cards' });
  for (const r of reqs) {
    const hid = nextId('rq');
    const card = h('article', { class: 'kluis-card kluis-request', 'aria-labelledby': hid, dataset: { request: r.id } },
      heading(2, t('req.from', { who: personName(r.from) }), { id: hid }),
      dataList([
        [t('access.purpose'), purposeTitle(r.purpose)],
        [t('access.sections'), listJoin((r.sections || []).map(sectionTitle))],
        [t('access.kind'), t(r.access === 'write' ? 'access.write' : 'access.read')],
        [t('access.period'), t('req.days', { n: r.days })],
        r.note ? [t('req.note'), r.note] : null,
      ]));
    const msg = h('div', { class: 'kluis-msg' });
    if (!r.signed) card.append(alertBox('warning', t('req.badsig')));
    const approve = button(t('req.approve'), { 'aria-describedby': hid, disabled: !r.signed });
    const decline = button(t('req.decline'), { 'aria-describedby': hid }, 'secondary-action');
    approve.addEventListener('click', () => {
      app.pendingGrant = { grantee: r.from, purpose: r.purpose, sections: r.sections, access: r.access, days: r.days, request: r.id };
      go('give');
    });
    decline.addEventListener('click', async () => {
      decline.disabled = true;
      try {
        await guarded(() => V.declineRequest(app.s, r.id));
        app.flash = { kind: 'ok', text: t('req.declined', { who: personName(r.from) }) };
        render(true);
      } catch (e) {
        decline.disabled = false;
        if (!e.handled) msg.append(alertBox('error', errorText(e)));
      }
    });
    card.append(h('div', { class: 'utrecht-button-group kluis-actions' }, approve, decline), msg);
    cards.append(h('li', {}, card));
  }
  body.append(cards);
}

// ---- screen: journal ---------------------------------------------------------------------------

const seenKey = () => `kluis.journal.${app.s.id}`;

/** Compare with what this browser saw last time; store the new length and heads. */
function checkAgainstLast(j) {
  let last = null;
  try { last = JSON.parse(localStorage.getItem(seenKey()) || 'null'); } catch { last = null; }
  let problem = null;
  if (last && typeof last.n === 'number') {
    if (j.events.length < last.n) problem = t('journal.shorter', { old: last.n, n: j.events.length });
    else if (last.n > 0 && j.heads[last.n - 1] !== last.head) problem = t('journal.changed');
  }
  if (!problem && j.ok) {
    try { localStorage.setItem(seenKey(), JSON.stringify({ n: j.events.length, head: j.head })); } catch { /* private mode */ }
  }
  return problem;
}

function basisText(ev, grants) {
  const b = ev.basis;
  if (!b) return t('basis.none');
  if (b === 'own') return t('basis.own');
  if (typeof b === 'string' && b.startsWith('override:')) return t('basis.override');
  const g = grants && grants.get(b);
  return t('basis.grant', { purpose: g ? purposeTitle(g.purpose) : b });
}

function actionText(a) {
  const base = String(a || '').split('.')[0];
  const key = `action.${a}`;
  const k2 = `action.${base}`;
  const s = t(key);
  if (s !== key) return s;
  const s2 = t(k2);
  return s2 !== k2 ? s2 : String(a);
}

function isOverride(ev) {
  return String(ev.basis || '').startsWith('override:');
}

/**
 * One notice per emergency override, from its journal events (basis "override:<id>"): who asked
 * (the mayor), for whom (the professional who read under it), when, which parts, whether it ended;
 * the ground and justification when the vault's events carry them.
 */
function overrideNotices(events) {
  const by = new Map();
  for (const ev of events) {
    const b = String(ev.basis || '');
    const id = ev.override || (b.startsWith('override:') ? b.slice(9) : null);
    if (!id) continue;
    const o = by.get(id) || { id, events: [], readers: new Set(), sections: new Set() };
    o.events.push(ev);
    const a = String(ev.action || '');
    if (/activated/.test(a)) { o.activated = ev.time; o.mayor = ev.actor; }
    if (/closed|expired/.test(a)) o.closed = ev.time;
    if (a === 'read' || a === 'write') { o.readers.add(ev.actor); if (ev.section) o.sections.add(ev.section); }
    for (const k of ['ground', 'justification', 'beneficiary', 'expires']) if (ev[k]) o[k] = ev[k];
    if (Array.isArray(ev.sections)) ev.sections.forEach((x) => o.sections.add(x));
    by.set(id, o);
  }
  return [...by.values()].reverse().map((o) => {
    const who = o.beneficiary ? personName(o.beneficiary) : o.readers.size ? listJoin([...o.readers].map(personName)) : '—';
    const from = o.activated || o.events[0].time;
    const until = o.closed || o.expires;
    const secs = o.sections.has('*') ? t('override.all') : o.sections.size ? listJoin([...o.sections].map(sectionTitle)) : null;
    const hid = `ov-${o.id}`;
    return h('section', { class: 'kluis-override', 'aria-labelledby': hid, dataset: { override: o.id } },
      alertBox('warning',
        heading(2, t('override.title'), { id: hid }),
        para(who === '—' ? t('override.text.nobody') : t('override.text', { who })),
        dataList([
          o.ground ? [t('override.ground'), groundTitle(o.ground)] : null,
          o.justification ? [t('override.justification'), o.justification] : null,
          [t('override.period'), until ? t('access.period.value', { from: fmtDate(from, true), until: fmtDate(until, true) }) : fmtDate(from, true)],
          o.mayor ? [t('override.by'), personName(o.mayor)] : null,
          secs ? [t('override.sections'), secs] : null,
        ])));
  });
}

/** A principal {id, display_name, organisation} of the vault's override view, as a readable name. */
function whoText(w) {
  if (!w) return '—';
  const p = app.s?.dir.get(w.id);
  const name = w.display_name || p?.display_name || w.id;
  const org = w.organisation ?? p?.organisation;
  return org ? `${name} (${org})` : name;
}

/**
 * The notice of one emergency override, from the vault's own record of it (GET
 * /citizens/{c}/overrides): the mayor's ground and justification, the professional it opened the
 * dossier for, the period, the parts, who approved, and whether it has ended. SPEC §5: the vault
 * shows it only from the charter's notice time on.
 */
function overrideCard(o) {
  const hid = `ov-${o.id}`;
  const active = o.state === 'active';
  const ground = (en() && o.ground_title_en) || (!en() && o.ground_title) || groundTitle(o.ground);
  const secs = (o.sections || []).includes('*') ? t('override.all') : listJoin((o.sections || []).map(sectionTitle));
  const from = o.activated || o.requested;
  const until = o.closed && (!o.expires || o.closed < o.expires) ? o.closed : o.expires;
  const status = active ? t('override.state.active', { until: fmtDate(o.expires, true) })
    : o.activated ? (o.close_reason === 'expired' ? t('override.state.expired') : t('override.state.closed', { who: o.closed_by ? whoText(o.closed_by) : '—' }))
      : t('override.state.withdrawn');
  return h('section', { class: `kluis-override kluis-override--${active ? 'active' : 'ended'}`, 'aria-labelledby': hid, dataset: { override: o.id, state: o.state } },
    alertBox(active ? 'warning' : 'info',
      heading(2, active ? t('override.title.active') : t('override.title'), { id: hid }),
      para(t('override.text.full', { mayor: whoText(o.mayor), who: whoText(o.beneficiary) })),
      dataList([
        [t('override.ground'), ground],
        [t('override.justification'), o.justification || '—'],
        [t('override.professional'), whoText(o.beneficiary)],
        [t('override.period'), until ? t('access.period.value', { from: fmtDate(from, true), until: fmtDate(until, true) }) : fmtDate(from, true)],
        [t('override.status'), status],
        [t('override.sections'), secs],
        [t('override.by'), whoText(o.mayor)],
        (o.approved_by || []).length ? [t('override.approved'), listJoin(o.approved_by.map(whoText))] : null,
        (o.released || []).length ? [t('override.released'), listJoin(o.released.map(sectionTitle))] : null,
      ])));
}

/** The vault's override records (newest first); [] when it cannot say (the journal still shows them). */
async function loadOverrideNotices() {
  const list = await guarded(() => V.loadOverrides(app.s)).catch((e) => { if (e.handled) throw e; return []; });
  return list.slice().sort((a, b) => (b.activated || b.requested || 0) - (a.activated || a.requested || 0));
}

async function screenJournal(body, live) {
  body.append(para(t('journal.intro')));
  const stop = busy(body, t('loading'));
  let j;
  let grants = new Map();
  let overrides = [];
  try {
    j = await guarded(() => V.loadJournal(app.s));
    overrides = await loadOverrideNotices();
    await V.loadDirectory(app.s).catch(() => {}); // names of principals registered since login
    grants = new Map((await guarded(() => V.loadGrants(app.s)).catch(() => [])).map((g) => [g.id, g]));
  } finally { stop(); }
  if (!live()) return;
  const problem = checkAgainstLast(j);
  if (!j.ok) body.append(alertBox('error', t('journal.bad')));
  else if (problem) body.append(alertBox('error', problem));
  else body.append(alertBox('ok', t('journal.ok', { n: j.events.length })));
  // Emergency access: every override is a notice at the top, newest first, from the vault's record
  // of it (ground, justification, professional, period); an override the record list does not
  // name (an older vault) still gets the notice the journal events allow.
  const known = new Set(overrides.map((o) => o.id));
  for (const o of overrides) body.append(overrideCard(o));
  for (const n of overrideNotices(j.events.filter((ev) => !known.has(String(ev.basis || '').replace(/^override:/, ''))))) body.append(n);
  if (!j.events.length) { body.append(para(t('journal.none'))); return; }
  // Others' actions first and foremost; the citizen's own (every dossier view is journaled too)
  // only when asked for.
  const own = checkbox(t('journal.own'));
  const list = h('ol', { class: 'kluis-timeline', 'aria-label': t('journal.title') });
  const fill = () => {
    clear(list);
    const shown = j.events.slice().reverse().filter((ev) => own.input.checked || ev.actor !== app.s.id || isOverride(ev));
    if (!shown.length) list.append(h('li', { class: 'kluis-event' }, para(t('journal.none.others'))));
    for (const ev of shown) list.append(eventItem(ev, grants));
  };
  own.input.addEventListener('change', fill);
  fill();
  body.append(own.el, list);
}

function refusalText(code) {
  const k = `refusal.${code}`;
  const s = t(k);
  return s === k ? code : s;
}

function eventItem(ev, grants) {
  const denied = typeof ev.result === 'string' && ev.result.startsWith('denied');
  const who = ev.actor ? personName(ev.actor) : '—';
  const what = `${actionText(ev.action)}${ev.section ? ` — ${sectionTitle(ev.section)}` : ''}`;
  return h('li', { class: `kluis-event${denied ? ' kluis-event--denied' : ''}${isOverride(ev) ? ' kluis-event--override' : ''}`, dataset: { seq: ev.seq } },
    h('p', { class: 'utrecht-paragraph kluis-event-line' },
      h('time', { datetime: new Date((ev.time || 0) * 1000).toISOString() }, fmtDate(ev.time || 0, true)), ' ',
      h('strong', {}, who), ': ', what),
    h('p', { class: 'utrecht-paragraph kluis-event-meta' },
      `${t('journal.basis')}: ${basisText(ev, grants)} · `,
      h('span', { class: denied ? 'kluis-denied' : 'kluis-allowed' }, denied ? t('journal.denied', { why: refusalText(ev.result.slice(7)) }) : t('journal.allowed'))));
}

/** SPEC §7.5: after an override, rotate the keys of the sections it opened (once the override ended). */
async function rotateAfterOverrides() {
  const j = await V.loadJournal(app.s);
  if (!j.ok) return;
  const opened = new Map(); // override id → {sections, epochs by section, ended}
  const nowS = Date.now() / 1000;
  for (const ev of j.events) {
    const id = ev.override || (String(ev.basis || '').startsWith('override:') ? ev.basis.slice(9) : null);
    if (!id) continue;
    const o = opened.get(id) || { sections: new Set(), ended: false, expires: 0 };
    for (const s of ev.sections || (ev.section ? [ev.section] : [])) o.sections.add(s);
    // An override event that names no section opened them all.
    if (String(ev.action || '').startsWith('override') && !ev.sections && !ev.section && !ev.items) o.sections.add('*');
    if (Array.isArray(ev.items)) for (const it of ev.items) o.sections.add(it.section);
    if (ev.expires) o.expires = ev.expires;
    if (/closed|expired/.test(ev.action)) o.ended = true;
    opened.set(id, o);
  }
  if (!opened.size) return;
  const d = await V.loadDossier(app.s);
  const doneKey = `kluis.rotated.${app.s.id}`;
  let done = {};
  try { done = JSON.parse(localStorage.getItem(doneKey) || '{}'); } catch { done = {}; }
  for (const [id, o] of opened) {
    if (done[id] || !(o.ended || (o.expires && o.expires < nowS))) continue;
    const secs = o.sections.has('*') ? d.sections.map((s) => s.section) : [...o.sections];
    for (const s of secs) if (d.sections.find((x) => x.section === s && x.epochs.length)) await V.rotateSection(app.s, app.vault, s);
    done[id] = Math.floor(nowS);
    try { localStorage.setItem(doneKey, JSON.stringify(done)); } catch { /* private mode */ }
  }
}

// ---- screen: my data ---------------------------------------------------------------------------

async function collectAll() {
  const d = await loadDossier();
  const sections = [];
  for (const sec of d.sections) {
    const entries = sec.epochs.length ? await V.loadEntries(app.s, app.s.id, sec.section) : [];
    sections.push({
      section: sec.section, title: sectionTitle(sec.section), current_epoch: sec.current_epoch,
      entries: entries.map((e) => ({ seq: e.seq, id: e.id, author: e.signer, author_name: personName(e.signer), time: e.issued, epoch: e.epoch, verified: e.ok, corrects: e.corrects, ...(e.ok ? e.doc : { error: e.error }) })),
    });
  }
  const grants = await V.loadGrants(app.s).catch(() => []);
  const journal = await V.loadJournal(app.s).catch(() => null);
  let raw = null;
  try { raw = await V.exportRaw(app.s); } catch { raw = null; }
  return {
    kluis_export: 1, citizen: app.s.id, vault: app.vault.origin, exported: Math.floor(Date.now() / 1000),
    sections, grants, journal: journal ? { verified: journal.ok, head: journal.head, events: journal.events } : null, vault_export: raw,
  };
}

function printable(data) {
  const doc = document.implementation.createHTMLDocument(t('print.title'));
  doc.documentElement.lang = lang();
  const meta = doc.createElement('meta');
  meta.setAttribute('charset', 'utf-8');
  doc.head.prepend(meta);
  // The style sheet is a constant added to the serialised text below: building a <style> inside
  // this page would be inline style, which the page's own CSP refuses.
  const css = 'body{font-family:"Noto Sans",Arial,sans-serif;max-width:48rem;margin:2rem auto;line-height:1.5;color:#111}h1,h2,h3{line-height:1.2}article{border-top:1px solid #999;padding:.5rem 0}.meta{color:#444;font-size:.9rem}.body{white-space:pre-wrap}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.25rem .5rem;text-align:left}';
  const el = (tag, text, parent = doc.body) => { const e = doc.createElement(tag); if (text !== undefined) e.textContent = text; parent.append(e); return e; };
  el('h1', t('print.title'));
  el('p', t('print.made', { date: fmtDate(data.exported, true), id: data.citizen }));
  for (const s of data.sections) {
    el('h2', s.title);
    if (!s.entries.length) el('p', t('dossier.empty'));
    for (const e of s.entries) {
      const a = el('article');
      el('h3', e.title || '—', a);
      el('p', `${t('dossier.by', { who: e.author_name })} · ${fmtDate(e.time, true)}${e.verified ? ` · ${t('dossier.verified')}` : ''}`, a).className = 'meta';
      if (e.kind === 'document') el('p', `${e.name || 'document'} (${e.mime || ''})`, a);
      if (e.body) el('p', e.body, a).className = 'body';
    }
  }
  el('h2', t('access.title'));
  const gt = el('table');
  const hr = el('tr', undefined, el('thead', undefined, gt));
  for (const k of ['give.who', 'access.purpose', 'access.sections', 'access.period', 'access.kind']) el('th', t(k), hr);
  const gb = el('tbody', undefined, gt);
  for (const g of data.grants) {
    const tr = el('tr', undefined, gb);
    el('td', personName(g.grantee), tr); el('td', purposeTitle(g.purpose), tr); el('td', listJoin(g.sections.map(sectionTitle)), tr);
    el('td', `${t('access.period.value', { from: fmtDate(g.not_before), until: fmtDate(g.expires) })} (${t(`state.${g.state}`)})`, tr);
    el('td', t(g.access === 'write' ? 'access.write' : 'access.read'), tr);
  }
  if (data.journal) {
    el('h2', t('journal.title'));
    el('p', data.journal.verified ? t('journal.ok', { n: data.journal.events.length }) : t('journal.bad'));
    const ol = el('ol');
    for (const ev of data.journal.events) el('li', `${fmtDate(ev.time || 0, true)} — ${ev.actor ? personName(ev.actor) : '—'}: ${actionText(ev.action)}${ev.section ? ` (${sectionTitle(ev.section)})` : ''} — ${typeof ev.result === 'string' && ev.result.startsWith('denied') ? t('journal.denied', { why: ev.result.slice(7) }) : t('journal.allowed')}`, ol);
  }
  const text = doc.documentElement.outerHTML.replace('</head>', `<style>${css}</style></head>`);
  return `<!doctype html>\n${text}\n`;
}

async function screenData(body) {
  body.append(para(t('data.intro')));
  const msg = h('div', { class: 'kluis-msg' });
  const jsonBtn = button(t('data.json'), { id: 'export-json' });
  const htmlBtn = button(t('data.html'), { id: 'export-html' }, 'secondary-action');
  const run = async (kind, btn) => {
    clear(msg);
    btn.disabled = true;
    const stop = busy(msg, t('data.busy'));
    try {
      const data = await guarded(collectAll);
      const stamp = new Date().toISOString().slice(0, 10);
      if (kind === 'json') download(`kluis-${app.s.id}-${stamp}.json`, JSON.stringify(data, null, 2), 'application/json');
      else download(`kluis-${app.s.id}-${stamp}.html`, printable(data), 'text/html');
      stop();
      msg.append(alertBox('ok', t('data.done')));
    } catch (e) {
      stop();
      if (!e.handled) msg.append(alertBox('error', errorText(e)));
    } finally {
      btn.disabled = false;
    }
  };
  jsonBtn.addEventListener('click', () => run('json', jsonBtn));
  htmlBtn.addEventListener('click', () => run('html', htmlBtn));
  body.append(h('div', { class: 'utrecht-button-group' }, jsonBtn, htmlBtn), msg);

  // erase a section
  const d = app.dossier || (await loadDossier());
  const box = h('section', { class: 'kluis-card kluis-erase', 'aria-labelledby': 'erase-title' },
    heading(2, t('data.erase.title'), { id: 'erase-title' }), para(t('data.erase.intro')));
  const sec = select(t('data.erase.section'), [['', '—'], ...d.sections.filter((s) => s.epochs.length).map((s) => [s.section, sectionTitle(s.section)])]);
  const und = checkbox(t('data.erase.understand'));
  const emsg = h('div', { class: 'kluis-msg' });
  const erase = h('button', { type: 'submit', class: 'utrecht-button utrecht-button--primary-action utrecht-button--danger' }, t('data.erase.submit'));
  const form = h('form', { class: 'utrecht-form kluis-form', novalidate: true, id: 'erase-form' }, sec.el, und.el, h('div', { class: 'utrecht-button-group' }, erase), emsg);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(emsg);
    if (!sec.input.value || !und.input.checked) { emsg.append(alertBox('error', t('data.erase.err'))); return; }
    erase.disabled = true;
    try {
      const s = sec.input.value;
      await guarded(() => V.eraseSection(app.s, s));
      app.dossier = null;
      app.flash = { kind: 'ok', text: t('data.erase.done', { section: sectionTitle(s) }) };
      render(true);
    } catch (e) {
      erase.disabled = false;
      if (!e.handled) emsg.append(alertBox('error', errorText(e)));
    }
  });
  box.append(form);
  body.append(box);
}

// ---- start -------------------------------------------------------------------------------------

async function boot() {
  initLang();
  $('lang').addEventListener('click', () => { setLang(lang() === 'nl' ? 'en' : 'nl'); render(false).then(() => $('lang').focus()); });
  $('logout').addEventListener('click', () => endSession('logout'));
  for (const ev of ['keydown', 'pointerdown', 'input', 'focusin']) document.addEventListener(ev, touch, { passive: true });
  setInterval(idleTick, 1000);
  window.addEventListener('hashchange', () => render(true));
  window.addEventListener('pagehide', () => { if (app.s) V.forget(app.s); });
  try {
    [app.vault, app.charter] = await Promise.all([api.get('/vault'), api.get('/charter')]);
  } catch (e) {
    renderChrome('login');
    clear(main()).append(heading(1, 'Kluis'), alertBox('error', errorText(e)));
    return;
  }
  await render(false);
  document.body.dataset.ready = '1';
}

boot();
