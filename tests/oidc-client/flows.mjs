// Drives Marquee's OpenID Connect provider with openid-client (not written here), as a TV/mobile app would.
// Usage: node flows.mjs <code|device> ; environment: OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_REDIRECT_URI (code),
// MARQUEE_COOKIE (the viewer's session cookie: it signs in at the authorize endpoint / approves on /device).
// Prints one JSON object with what the client saw; exits non-zero on any failure.
import * as client from 'openid-client';

const [flow] = process.argv.slice(2);
const issuer = new URL(process.env.OIDC_ISSUER);
const clientId = process.env.OIDC_CLIENT_ID;
const cookie = process.env.MARQUEE_COOKIE;
const insecure = { execute: [client.allowInsecureRequests] }; // loopback HTTP in tests

const config = await client.discovery(issuer, clientId, undefined, client.None(), insecure);
const result = { issuer: config.serverMetadata().issuer };

if (flow === 'code') {
  const redirectUri = process.env.OIDC_REDIRECT_URI;
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope: 'openid email profile offline_access', code_challenge: challenge, code_challenge_method: 'S256', state,
  });
  // The browser part: the signed-in viewer's cookie; the provider answers with a redirect to the app.
  const answer = await fetch(url, { headers: { cookie }, redirect: 'manual' });
  const location = answer.headers.get('location');
  if (answer.status !== 302 || !location?.startsWith(redirectUri)) {
    throw new Error(`authorize answered ${answer.status} ${location} ${await answer.text()}`);
  }
  const tokens = await client.authorizationCodeGrant(config, new URL(location), { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  Object.assign(result, {
    sub: claims.sub, email: claims.email, idTokenAlg: JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url')).alg,
    userinfo, refreshRotated: refreshed.refresh_token !== tokens.refresh_token, refreshedSub: refreshed.claims()?.sub,
  });
} else if (flow === 'device') {
  const started = await client.initiateDeviceAuthorization(config, { scope: 'openid email offline_access' });
  // The viewer's part, on the phone: open /device with the session cookie and approve the code.
  const page = await fetch(new URL('/device', issuer), { headers: { cookie } });
  const html = await page.text();
  const token = /name="__RequestVerificationToken" type="hidden" value="([^"]+)"|name="__RequestVerificationToken" value="([^"]+)"/.exec(html);
  const antiforgery = page.headers.getSetCookie().map(c => c.split(';')[0]).join('; ');
  if (!token) throw new Error(`no antiforgery token on /device (${page.status})`);
  const approve = await fetch(new URL('/connect/verify', issuer), {
    method: 'POST', redirect: 'manual',
    headers: { cookie: [cookie, antiforgery].filter(Boolean).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ user_code: started.user_code, approve: '1', __RequestVerificationToken: token[1] ?? token[2] }),
  });
  const approvedAt = approve.headers.get('location');
  const tokens = await client.pollDeviceAuthorizationGrant(config, started);
  Object.assign(result, {
    userCode: started.user_code, verificationUri: started.verification_uri, interval: started.interval, approvedAt,
    sub: tokens.claims()?.sub, email: tokens.claims()?.email, hasRefreshToken: typeof tokens.refresh_token === 'string',
  });
} else {
  throw new Error('flow: code or device');
}

console.log(JSON.stringify(result));
