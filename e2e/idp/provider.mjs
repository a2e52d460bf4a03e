// A real OpenID Provider for the end-to-end suite: node `oidc-provider` (pinned in package.json),
// started by e2e/test_idp.py on a free loopback port and stopped at the end of the module.
//
//   node provider.mjs CONFIG.json
//
// CONFIG: {"port": N, "resource": "https://api…", "access_token_ttl": 600,
//          "clients": [{client_id, client_secret, redirect_uris, backchannel_logout_uri, …}]}
// The issuer is http://127.0.0.1:PORT. Accounts: any login name is an account (dev interactions
// drive login and consent over plain HTTP: POST /interaction/UID prompt=login, then prompt=consent).
// Access tokens for `resource` are RS256 JWTs carrying the session's `sid` (as Keycloak, Okta and
// Entra ID put it in theirs), the same value the back-channel logout token carries.
//
// Test-only routes (a fixture on loopback, not part of oidc-provider):
//   GET  /__test__/deliveries  every back-channel logout this provider sent:
//                              [{url, logout_token, status, body}] (status 0: not delivered)
//   POST /__test__/sign        {"claims": {...}, "key": "provider" | "forged", "typ"?}: a JWS over
//                              `claims` with the provider's own signing key, or with a key of the
//                              same kid that is NOT in its JWKS (a forgery). Lets a test build
//                              logout tokens that differ from a real one in exactly one respect.
// It prints "ready <issuer>" once it listens.

import { readFileSync } from 'node:fs';
import http from 'node:http';

import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';
import { answer, readJson } from './http.mjs';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;
const KID = 'idp-rs256-1';

async function rsaKey() {
  const { privateKey } = await jose.generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  return { privateKey, jwk: { ...(await jose.exportJWK(privateKey)), kid: KID, alg: 'RS256', use: 'sig' } };
}

const signing = await rsaKey();
const forged = await rsaKey();

// Every back-channel logout the provider sends goes through this fetch: it is recorded, so a test
// can replay the exact logout token the verifier accepted and compare its sid with the access
// token's.
const deliveries = [];

async function recordingFetch(url, options) {
  // oidc-provider refuses to connect to special-use addresses (SSRF protection through an undici
  // dispatcher); the verifier under test listens on 127.0.0.1, so the dispatcher is dropped here.
  // A deployment whose verifier sits on a private address needs the same `fetch` override.
  delete options.dispatcher;
  const params = options.body instanceof URLSearchParams ? options.body : undefined;
  const record = params?.has('logout_token')
    ? { url: String(url), logout_token: params.get('logout_token'), status: 0, body: '' }
    : undefined;
  if (record) deliveries.push(record);
  const response = await globalThis.fetch(url, options);
  if (record) {
    record.status = response.status;
    record.body = await response.clone().text();
  }
  return response;
}

const configuration = {
  clients: config.clients,
  jwks: { keys: [signing.jwk] },
  cookies: { keys: ['warden-e2e-cookie-key-not-secret'] },
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return { sub }; } };
  },
  features: {
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => config.resource,
      useGrantedResource: async () => true,
      async getResourceServerInfo(ctx, indicator) {
        if (indicator !== config.resource) throw new errors.InvalidTarget();
        return {
          scope: 'api',
          audience: config.resource,
          accessTokenTTL: config.access_token_ttl ?? 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  formats: {
    customizers: {
      // AccessToken keeps the session's sid (session.sidFor(clientId), set on the authorization
      // code when the client has backchannel_logout_session_required) but does not put it in the
      // JWT by default.
      async jwt(ctx, token, jwt) {
        if (token.sid) jwt.payload.sid = token.sid;
      },
    },
  },
  fetch: recordingFetch,
};

const provider = new Provider(issuer, configuration);
provider.on('backchannel.success', (ctx, client, accountId, sid) => {
  console.log(`backchannel.success client=${client.clientId} sub=${accountId} sid=${sid}`);
});
provider.on('backchannel.error', (ctx, err, client, accountId, sid) => {
  console.log(`backchannel.error client=${client.clientId} sub=${accountId} sid=${sid}: ${err.message}`);
});
provider.on('server_error', (ctx, err) => console.log(`server_error: ${err.stack}`));

async function testRoute(req, res) {
  if (req.method === 'GET' && req.url === '/__test__/deliveries') {
    return answer(res, 200, deliveries);
  }
  if (req.method === 'POST' && req.url === '/__test__/sign') {
    const { claims, key = 'provider', typ = 'logout+jwt' } = await readJson(req);
    const chosen = { provider: signing, forged }[key];
    if (!chosen) return answer(res, 400, { error: `unknown key ${key}` });
    const jwt = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'RS256', kid: KID, typ })
      .sign(chosen.privateKey);
    return answer(res, 200, { jwt });
  }
  return answer(res, 404, { error: 'not found' });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/__test__/')) {
    testRoute(req, res).catch((err) => answer(res, 500, { error: String(err) }));
    return;
  }
  callback(req, res);
});
server.listen(config.port, '127.0.0.1', () => console.log(`ready ${issuer}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
