// A real OpenID Connect provider (the certified `oidc-provider` package) on loopback, for
// heliohub's login tests. Usage: node server.mjs CONFIG.json
//
// CONFIG.json:
//   {"port": 9400, "flavor": "oidc" | "cognito",
//    "clients": [{"client_id", "client_secret", "redirect_uris", "post_logout_redirect_uris",
//                 "token_endpoint_auth_method"}],
//    "users": [{"username", "password", "email", "groups": [...]}]}
//
// flavor "oidc": standard routes, groups in the `groups` claim (scope `groups`) from userinfo.
// flavor "cognito": the AWS Cognito hosted UI's routes (/oauth2/authorize, /oauth2/token,
// /oauth2/userInfo, /logout?client_id=&logout_uri=) and `cognito:groups` in the id token only,
// as Cognito does.
//
// Only the login form, Cognito's logout redirect and one client-authentication rule are written
// here; authorization, tokens, PKCE, client authentication and userinfo are the library's.
// The rule: oidc-provider accepts client_secret_basic and client_secret_post interchangeably,
// while Cognito (and other providers) answer `invalid_client` when a client authenticates
// another way than registered; when every client registers the same method, so does this one.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const host = '127.0.0.1';
const issuer = `http://${host}:${config.port}`;
const cognito = config.flavor === 'cognito';
const users = new Map(config.users.map((u) => [u.username, u]));

function claimsFor(user, use) {
  const claims = {
    sub: user.username,
    preferred_username: user.username,
    name: user.username,
    email: user.email,
    email_verified: true,
  };
  if (cognito) {
    claims['cognito:username'] = user.username;
    // Cognito puts groups in the id token and never in userinfo.
    if (use === 'id_token' && user.groups.length) claims['cognito:groups'] = user.groups;
  } else {
    claims.groups = user.groups;
  }
  return claims;
}

const provider = new Provider(issuer, {
  clients: config.clients.map((c) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    ...c,
  })),
  async findAccount(ctx, sub) {
    const user = users.get(sub);
    if (!user) return undefined;
    return { accountId: sub, claims: async (use) => claimsFor(user, use) };
  },
  claims: cognito
    ? {
      openid: ['sub', 'cognito:username', 'cognito:groups'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    }
    : {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
  scopes: cognito ? ['openid', 'email', 'profile'] : ['openid', 'email', 'profile', 'groups'],
  // Cognito's id token carries every claim of the granted scopes.
  conformIdTokenClaims: !cognito,
  cookies: { keys: [randomBytes(32).toString('hex')] },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: !cognito },
  },
  routes: cognito
    ? {
      authorization: '/oauth2/authorize',
      token: '/oauth2/token',
      userinfo: '/oauth2/userInfo',
      jwks: '/.well-known/jwks.json',
    }
    : {},
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // First-party clients: grant the requested scopes without a consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(ctx.oidc.requestParamScopes ? [...ctx.oidc.requestParamScopes].join(' ') : 'openid');
    await grant.save();
    return grant;
  },
  ttl: { AccessToken: 3600, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message, err.error_description || ''));

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, message) {
  return `<!doctype html><html><head><title>Test identity provider: sign in</title></head>
<body><h1>Sign in</h1>${message ? `<p class="error">${escape(message)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Username <input name="username" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form></body></html>`;
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
  res.end(body);
}

async function interaction(req, res, path) {
  const [, , uid, action] = path.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'interaction mismatch');
  if (req.method === 'GET') return send(res, 200, loginPage(uid));
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const user = users.get(form.get('username') || '');
    if (!user || user.password !== form.get('password')) {
      console.log(`login refused for ${JSON.stringify(form.get('username'))}`);
      return send(res, 200, loginPage(uid, 'Wrong username or password.'));
    }
    console.log(`login ok for ${user.username}`);
    return provider.interactionFinished(req, res, { login: { accountId: user.username } }, {
      mergeWithLastSubmission: false,
    });
  }
  return send(res, 405, 'method not allowed');
}

// Cognito's logout: the logout_uri must be one of the client's sign-out URLs.
function cognitoLogout(req, res, url) {
  const client = config.clients.find((c) => c.client_id === url.searchParams.get('client_id'));
  const target = url.searchParams.get('logout_uri');
  if (!client || !(client.post_logout_redirect_uris || []).includes(target)) {
    return send(res, 400, 'logout_uri is not a sign-out URL of this client');
  }
  // Forget the provider's session, as Cognito's logout does.
  const expired = 'Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly';
  const names = ['_session', '_session.sig', '_session.legacy', '_session.legacy.sig'];
  return send(res, 302, '', {
    location: target,
    'set-cookie': names.map((n) => `${n}=; ${expired}`),
  });
}

const methods = new Set(config.clients.map((c) => c.token_endpoint_auth_method || 'client_secret_basic'));
const strictMethod = methods.size === 1 ? [...methods][0] : null;
const tokenPath = cognito ? '/oauth2/token' : '/token';

function wrongClientAuth(req) {
  if (!strictMethod || req.method !== 'POST') return false;
  const basic = /^basic /i.test(req.headers.authorization || '');
  return (strictMethod === 'client_secret_basic') !== basic;
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (url.pathname.startsWith('/interaction/')) return await interaction(req, res, url.pathname);
    if (cognito && url.pathname === '/logout') return cognitoLogout(req, res, url);
    if (url.pathname === tokenPath && wrongClientAuth(req)) {
      console.log(`invalid_client: the client must use ${strictMethod}`);
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({
        error: 'invalid_client',
        error_description: `client authentication must use ${strictMethod}`,
      }));
    }
    return callback(req, res);
  } catch (err) {
    console.error('error', err);
    if (!res.headersSent) send(res, 500, 'internal error');
    return undefined;
  }
});

server.listen(config.port, host, () => {
  console.log(`oidc-provider (${config.flavor}) listening on ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
