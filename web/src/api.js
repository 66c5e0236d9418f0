// web/src/api.js — the vault's HTTP API (SPEC §6) as the page uses it. Same origin only, no
// cookies, no caching; errors become ApiError with the SPEC §10 code.
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter ? Number(retryAfter) : null;
  }
}

let base = typeof document !== 'undefined' ? document.baseURI : null;
/** Where the vault is (the page's own URL by default; Node test clients set it). */
export function setBase(url) { base = url; }

export async function call(method, path, { body, token, text = false } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(new URL(`v1${path}`, base), {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store', credentials: 'omit', redirect: 'error', referrerPolicy: 'no-referrer',
    });
  } catch (e) {
    throw new ApiError(0, 'network', String(e));
  }
  const raw = await res.text();
  if (text && res.ok) return raw;
  let json = null;
  try { json = raw ? JSON.parse(raw) : {}; } catch { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, json?.error || `http_${res.status}`, json?.message || '', res.headers.get('Retry-After'));
  if (json === null) throw new ApiError(res.status, 'bad_json', 'the vault answered something that is not JSON');
  return json;
}

export const get = (path, token) => call('GET', path, { token });
export const post = (path, body, token) => call('POST', path, { body, token });
export const del = (path, token) => call('DELETE', path, { token });
