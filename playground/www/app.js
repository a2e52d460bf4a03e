// The playground page: every answer comes from warden-core compiled to WebAssembly; this file
// only gathers the inputs and lays the explanation out. Everything from a token or a
// configuration is shown with textContent, never parsed as HTML.
import init, { compile, explain, version } from './warden_playground.js';
import { WASM_BASE64 } from './warden_wasm.js';

const $ = (id) => document.getElementById(id);
const TIME_CLAIMS = new Set(['exp', 'nbf', 'iat', 'auth_time']);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function isoDate(secs) {
  const d = new Date(secs * 1000);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace('.000Z', 'Z');
}

function show(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function parseJson(id, fallback) {
  const text = $(id).value.trim();
  if (!text) return fallback;
  try {
    $(id).classList.remove('invalid');
    return JSON.parse(text);
  } catch (e) {
    $(id).classList.add('invalid');
    throw new Error(`${id}: ${e.message}`);
  }
}

function clockSeconds() {
  if (!$('clock-override').checked || !$('clock').value) return undefined;
  const ms = Date.parse($('clock').value + 'Z');
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

function buildRequest() {
  const headers = parseJson('headers', {});
  const token = $('token').value.trim();
  if (token) headers.authorization = `Bearer ${token}`;
  const request = {
    method: $('method').value,
    path: $('path').value || '/',
    headers,
    cookies: parseJson('cookies', {}),
    query: parseJson('query', {}),
    jwks: parseJson('jwks', {}),
  };
  const answer = $('verifier').value;
  request.verifier = answer === 'allow' || answer === 'unavailable'
    ? answer
    : { allow: false, reason: answer };
  const now = clockSeconds();
  if (now !== undefined) request.now = now;
  return request;
}

function checkConfig() {
  const result = JSON.parse(compile($('config').value));
  const status = $('config-status');
  if (result.ok) {
    status.className = 'status ok';
    status.textContent = `configuration accepted: ${result.providers.length} provider(s), ${result.rules.length} rule(s)`;
    for (const line of result.log.filter((l) => l.includes('skipped'))) {
      status.append(el('div', { class: 'warn' }, line));
    }
  } else {
    status.className = 'status fail';
    status.textContent = '';
    status.append(el('strong', { id: 'config-error-path' }, result.path || '(document)'),
      ': ', result.reason, el('div', { class: 'log' }, result.message));
  }
  return result.ok;
}

function step(title, state, ...body) {
  const mark = { ok: '✓', fail: '✗', skip: '–', info: '•' }[state] || '•';
  return el('li', { class: `step ${state}`, 'data-step': title },
    el('div', { class: 'step-title' }, el('span', { class: 'mark' }, mark), ' ', title),
    el('div', { class: 'step-body' }, ...body));
}

function table(headers, rows) {
  return el('table', {},
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows.map((r) => el('tr', { class: r.class || '' }, r.cells.map((c) => el('td', {}, c))))));
}

function claimsTable(claims) {
  return table(['claim', 'value', 'as a date (UTC)'], Object.entries(claims || {}).map(([k, v]) => ({
    cells: [k, show(v), TIME_CLAIMS.has(k) && typeof v === 'number' ? isoDate(v) : ''],
  })));
}

function renderProvider(p) {
  const parts = [];
  parts.push(table(['source', 'copies', 'state'], p.sources.map((s) => ({
    class: s.state === 'present' ? 'hit' : '', cells: [s.source, s.copies, s.state],
  }))));
  if (p.outcome === 'not_tried') {
    return step(`provider ${p.name}: not tried (an earlier provider verified the token)`, 'skip');
  }
  if (!p.token) {
    const state = p.extracted === 'duplicate' || p.extracted === 'empty' ? 'fail' : 'skip';
    return step(`provider ${p.name}: token ${p.extracted}`, state, parts);
  }
  const t = p.token;
  parts.push(el('p', {}, `token from ${p.token_source}, ${t.bytes} bytes (limit ${t.max_token_bytes})`));
  const structureOk = t.structure === 'ok';
  parts.push(el('div', { class: `sub ${structureOk ? 'ok' : 'fail'}`, 'data-check': 'structure' },
    `structure (base64url, JSON header, alg, crit): ${t.structure}`,
    t.alg ? ` — alg ${t.alg}` : '', t.kid ? `, kid ${JSON.stringify(t.kid)}` : ', no kid'));
  parts.push(el('div', { class: 'decoded' },
    el('div', {}, el('h4', {}, 'header (decoded)'), el('pre', { class: 'json' }, t.header ? JSON.stringify(t.header, null, 2) : 'not JSON')),
    el('div', {}, el('h4', {}, 'claims (decoded, before any check)'), t.claims ? claimsTable(t.claims) : el('pre', {}, 'not JSON'))));
  if (structureOk) {
    parts.push(el('h4', {}, `keys (${t.key_source})`));
    parts.push(table(['kid', 'type', 'pinned alg', 'tried', 'result'], t.keys.map((k) => ({
      class: k.result === 'valid' ? 'hit' : (k.result === 'invalid' ? 'miss' : ''),
      cells: [k.kid ?? '(none)', k.type, k.alg ?? '', k.candidate ? 'yes' : 'no', k.result ?? k.why_not ?? ''],
    }))));
    if (t.signature) {
      parts.push(el('div', { class: `sub ${t.signature === 'ok' ? 'ok' : 'fail'}`, 'data-check': 'signature' },
        `signature: ${t.signature}`));
    }
  }
  if (t.claim_checks.length) {
    parts.push(el('h4', {}, 'claim checks'));
    parts.push(table(['claim', 'value', 'date (UTC)', 'demand', 'verdict'], t.claim_checks.map((c) => ({
      class: c.verdict === 'fail' ? 'miss' : '',
      cells: [c.claim, c.value === null || c.value === undefined ? '' : show(c.value), c.date ?? '', c.check,
        c.verdict + (c.reason ? ` (${c.reason})` : '')],
    }))));
  }
  const state = p.outcome === 'allowed' ? 'ok' : 'fail';
  return step(`provider ${p.name}: ${p.outcome}${p.reason ? ` — ${p.reason}` : ''}`, state, parts);
}

function render(x) {
  const verdict = $('verdict');
  verdict.className = `verdict ${x.decision === 'forward' ? 'allow' : 'deny'}`;
  $('verdict-status').textContent = x.decision === 'forward' ? `${x.status} forwarded` : String(x.status);
  $('verdict-reason').textContent = x.reason;
  $('failed-at').textContent = x.failed_at ? `failed at: ${x.failed_at}` : '';
  $('summary').textContent = `${x.summary} Clock: ${x.now_iso}.`;
  const steps = [];
  const r = x.rule;
  const ruleText = r.index === null || r.index === undefined
    ? r.verdict : `rule ${r.index} ${JSON.stringify(r.match)} → requires any of [${r.requires_any.join(', ')}]`;
  steps.push(step(`rule: ${ruleText}`, r.verdict === 'rejected' ? 'fail' : 'ok',
    r.note ? el('p', {}, r.note) : null,
    r.readings.length > 1 ? table(['reading of the path', 'rule'], r.readings.map((d) => ({
      cells: [d.path, d.rule === null ? 'none' : String(d.rule)],
    }))) : null));
  for (const p of x.providers) steps.push(renderProvider(p));
  for (const f of x.jwks_fetches) {
    steps.push(step(`JWKS fetch for ${f.provider} (${f.when})`, 'info',
      `${f.method} ${f.path} on cluster ${f.cluster}: ${f.reply}`));
  }
  if (x.verifier_call) {
    const c = x.verifier_call;
    steps.push(step(`verifier call: ${c.method} ${c.path} (cluster ${c.cluster}, ${c.timeout_ms} ms)`,
      x.failed_at === 'verifier' ? 'fail' : 'ok',
      el('pre', { class: 'json' }, JSON.stringify(c.body, null, 2)),
      el('p', {}, `assumed answer: ${show(c.assumed_answer)}`)));
  }
  if (x.answer) {
    steps.push(step(`answer: ${x.answer.status}`, 'fail',
      x.www_authenticate ? el('p', {}, el('code', { id: 'www-authenticate' }, `WWW-Authenticate: ${x.www_authenticate}`)) : null,
      el('pre', { class: 'json' }, JSON.stringify(x.answer.body, null, 2))));
  }
  if (x.forward) {
    steps.push(step('forwarded upstream', 'ok',
      el('p', {}, `removed: ${x.forward.remove.join(', ') || 'nothing'}`),
      el('p', {}, `set: ${x.forward.set.map(([k, v]) => `${k}: ${v}`).join('; ') || 'nothing'}`),
      table(['header the upstream receives', 'value'], x.forwarded_headers.map(([k, v]) => ({ cells: [k, v] })))));
  }
  if (x.log.length) {
    steps.push(step('filter log', 'info', el('pre', { class: 'log' }, x.log.join('\n'))));
  }
  $('steps').replaceChildren(...steps);
  $('raw').textContent = JSON.stringify(x, null, 2);
}

function run() {
  const configText = $('config').value;
  if (!checkConfig()) {
    $('verdict').className = 'verdict deny';
    $('verdict-status').textContent = 'config';
    $('verdict-reason').textContent = 'rejected';
    $('failed-at').textContent = '';
    $('summary').textContent = 'The filter refuses this configuration (Envoy would not load it).';
    $('steps').replaceChildren();
    return;
  }
  let request;
  try {
    request = buildRequest();
  } catch (e) {
    $('summary').textContent = e.message;
    return;
  }
  const x = JSON.parse(explain(configText, JSON.stringify(request), Date.now()));
  if (!x.ok) {
    $('summary').textContent = x.message;
    return;
  }
  render(x);
}

// A sample that verifies out of the box: an HS256 key and a token signed here with WebCrypto.
const SAMPLE_SECRET = 'warden-playground-sample-secret-32b!';
function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
const utf8 = (s) => new TextEncoder().encode(s);
async function loadSample() {
  const jwks = { keys: [{ kty: 'oct', kid: 'sample', alg: 'HS256', k: b64url(utf8(SAMPLE_SECRET)) }] };
  const config = {
    providers: {
      main: {
        issuer: 'https://issuer.example', audiences: ['api.example'],
        local_jwks: { inline_string: JSON.stringify(jwks) },
        claim_to_headers: [{ header_name: 'x-jwt-sub', claim_name: 'sub' }],
      },
    },
    rules: [{ match: { prefix: '/healthz' } }, { match: { prefix: '/' }, requires: { provider_name: 'main' } }],
  };
  $('config').value = JSON.stringify(config, null, 2);
  const now = clockSeconds() ?? Math.floor(Date.now() / 1000);
  const claims = { iss: 'https://issuer.example', aud: 'api.example', sub: 'alice', jti: 'sample-1', iat: now, exp: now + 600 };
  const input = `${b64url(utf8(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'sample' })))}.${b64url(utf8(JSON.stringify(claims)))}`;
  const key = await crypto.subtle.importKey('raw', utf8(SAMPLE_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const sig = await crypto.subtle.sign('HMAC', key, utf8(input));
  $('token').value = `${input}.${b64url(sig)}`;
  run();
}

function setClockToNow() {
  $('clock').value = new Date().toISOString().slice(0, 19);
}

async function main() {
  const bytes = Uint8Array.from(atob(WASM_BASE64), (c) => c.charCodeAt(0));
  await init({ module_or_path: bytes });
  $('core-version').textContent = `warden-core ${version()}`;
  setClockToNow();
  let timer;
  const later = () => { clearTimeout(timer); timer = setTimeout(run, 250); };
  for (const id of ['config', 'token', 'headers', 'cookies', 'query', 'jwks', 'path']) $(id).addEventListener('input', later);
  for (const id of ['method', 'verifier', 'clock', 'clock-override']) $(id).addEventListener('change', run);
  $('explain').addEventListener('click', run);
  $('sample').addEventListener('click', loadSample);
  document.body.dataset.ready = 'true';
}

main();
