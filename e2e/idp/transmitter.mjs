// A Security Event Token transmitter for the end-to-end suite (e2e/test_idp.py): an identity
// provider that signs its access tokens and its SETs (RFC 8417) with node `jose`, independently of
// Warden's own signer.
//
//   node transmitter.mjs PORT
//
// GET  /jwks.json  its public key (ES256, made at start)
// POST /sign       {"claims": {...}, "typ": "secevent+jwt" | "at+jwt", "key": "transmitter" | "forged"}
//                  → {"jwt": …}; "forged" signs with a key of the same kid that is not in /jwks.json.
// It prints "ready http://127.0.0.1:PORT" once it listens.

import http from 'node:http';

import * as jose from 'jose';
import { answer, readJson } from './http.mjs';

const port = Number(process.argv[2]);
const KID = 'tx-es256-1';

async function ecKey() {
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
  return { privateKey, publicJwk: { ...(await jose.exportJWK(publicKey)), kid: KID, alg: 'ES256', use: 'sig' } };
}

const keys = { transmitter: await ecKey(), forged: await ecKey() };

async function route(req, res) {
  if (req.method === 'GET' && req.url === '/jwks.json') {
    return answer(res, 200, { keys: [keys.transmitter.publicJwk] });
  }
  if (req.method === 'POST' && req.url === '/sign') {
    const { claims, typ, key = 'transmitter' } = await readJson(req);
    if (!keys[key]) return answer(res, 400, { error: `unknown key ${key}` });
    const jwt = await new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: KID, typ })
      .sign(keys[key].privateKey);
    return answer(res, 200, { jwt });
  }
  return answer(res, 404, { error: 'not found' });
}

const server = http.createServer((req, res) => {
  route(req, res).catch((err) => answer(res, 500, { error: String(err) }));
});
server.listen(port, '127.0.0.1', () => console.log(`ready http://127.0.0.1:${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
