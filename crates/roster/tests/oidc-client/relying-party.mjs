// Drives Roster as a relying party with the certified openid-client library: discovery, an
// authorization URL with PKCE, state and nonce, the code exchange (which checks the ID token's
// signature, issuer, audience, nonce and the response's iss), userinfo, a refresh, token
// introspection and revocation, and the address that signs the person out.
//
// The browser's part is played by the test that runs this: the script prints the URL to open
// as one JSON line, reads back the address the browser landed on, then prints what it got.
//
// Environment: OPENID_CLIENT (the folder npm installed openid-client into), ISSUER, CLIENT_ID,
// CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI.
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = process.env;
const client = await import(pathToFileURL(join(env.OPENID_CLIENT, 'node_modules/openid-client/build/index.js')).href);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (value) => process.stdout.write(JSON.stringify(value) + '\n');

// Tests run over plain http on 127.0.0.1; production needs https, which the library insists on.
const config = await client.discovery(new URL(env.ISSUER), env.CLIENT_ID, env.CLIENT_SECRET, undefined, {
  execute: [client.allowInsecureRequests],
});
const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: env.REDIRECT_URI,
  scope: 'openid profile email offline_access',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
});
say({ authorize: url.href });

const landed = (await lines.next()).value;
const tokens = await client.authorizationCodeGrant(config, new URL(landed), {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
const active = await client.tokenIntrospection(config, refreshed.access_token);
await client.tokenRevocation(config, refreshed.refresh_token);
const revoked = await client.tokenIntrospection(config, refreshed.access_token);
let replay;
try {
  await client.refreshTokenGrant(config, tokens.refresh_token);
  replay = 'accepted';
} catch (e) {
  replay = e.error ?? e.code ?? String(e);
}
const signOut = client.buildEndSessionUrl(config, {
  id_token_hint: refreshed.id_token,
  post_logout_redirect_uri: env.POST_LOGOUT_REDIRECT_URI,
  state: 'bye',
});
say({
  claims,
  userinfo,
  refreshed_claims: refreshed.claims(),
  rotated: refreshed.refresh_token !== tokens.refresh_token,
  replay,
  introspected: { active: active.active, sub: active.sub, client_id: active.client_id },
  after_revocation: revoked.active,
  sign_out: signOut.href,
});
