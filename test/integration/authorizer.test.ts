// Apache httpd's mod_authnz_fcgi asking a sluice authorizer (examples/authorizer.mjs, FastCGI over
// TCP) before proxying to a sluice content app (test/fixtures/apps/probe.mjs, FastCGI over a Unix
// socket), with the shipped deploy/apache/sluice-authorizer.conf.
//
// Tests run in the order written (jest runs one file's tests sequentially): the refused requests come
// first, so "the content app was never asked" is "the content daemon has not seen a connection yet".
// Apache's enablereuse pool would hide later requests on an already open connection.
import { removeTempSocketDirs, startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { requireBinary, startFrontEnd, type FrontEnd } from '../helpers/frontends';
import { request } from '../helpers/http';
import { waitForLog } from './interop-cases';

const describeWithApache = requireBinary('apache') ? describe : describe.skip;

const basic = (user: string, password: string): string =>
  'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

describeWithApache('Apache mod_authnz_fcgi with a sluice authorizer', () => {
  let authorizer: Daemon | undefined;
  let content: Daemon | undefined;
  let apache: FrontEnd | undefined;

  beforeAll(async () => {
    [authorizer, content] = await Promise.all([
      // --log-level debug: the example logs each decision with the roles it ran under.
      startDaemon('examples/authorizer.mjs', ['--fastcgi', '127.0.0.1:0', '--log-level', 'debug']),
      startDaemon('test/fixtures/apps/probe.mjs', [
        '--fastcgi',
        'unix:' + tempSocketPath('content.sock'),
        '--socket-mode',
        '0666', // Apache's workers run as www-data when the tests run as root
        '--log-level',
        'debug',
      ]),
    ]);
    apache = await startFrontEnd('apache', 'deploy/apache/sluice-authorizer.conf', {
      fastcgi: content.addresses.fastcgi![0],
      authorizer: authorizer.addresses.fastcgi![0],
    });
  }, 60_000);

  afterAll(async () => {
    try {
      await apache?.stop();
      const codes = await Promise.all([authorizer?.stop(), content?.stop()]);
      expect(codes.filter((code) => code !== undefined)).toEqual([0, 0]);
    } finally {
      removeTempSocketDirs();
    }
  });

  const get = async (path: string, authorization?: string) => {
    const res = await request({
      port: apache!.port,
      path,
      headers: authorization === undefined ? {} : { authorization },
      timeoutMs: 5000,
    });
    return { ...res, text: res.body.toString() };
  };

  /** The authorizer's debug line for the request with this REQUEST_URI (stderr may lag the response). */
  const decision = (uri: string): Promise<Record<string, unknown>> =>
    waitForLog(authorizer!, (line) => line.msg === 'authorizer decision' && line.uri === uri, 5000);

  const connections = (daemon: Daemon): number =>
    daemon.logLines().filter((line) => line.msg === 'connection opened').length;

  /** Whether the content daemon has had a connection, after giving its log time to arrive. */
  const contentReached = async (): Promise<boolean> => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    return connections(content!) > 0;
  };

  const context = (text: string) => `${text}\n--- apache ---\n${apache!.errorLog()}`;

  it('answers a request without credentials with 401 and a Basic challenge', async () => {
    const res = await get('/env?case=anonymous');
    expect(res.status).toBe(401);
    // The authorizer's own text, not Apache's page: mod_authnz_fcgi keeps only the body bytes that
    // share the STDOUT record with the end of the head, so sluice sends a short body in that record.
    expect(res.text).toBe('Log in to see this page.\n');
    // Two challenges in one header: mod_auth_basic adds `Basic realm="sluice"` (AuthName) to any
    // answer to a request without Basic credentials, and the authorizer's own (with charset) comes
    // through as well. Same realm, so clients see no conflict.
    expect(res.headers['www-authenticate']).toContain('Basic realm="sluice"');
    expect(res.headers['www-authenticate']).toContain('charset="UTF-8"');
    // RequireBasicAuth Off: Apache asked the authorizer (with no REMOTE_USER), which chose the 401.
    const seen = await decision('/env?case=anonymous');
    expect(seen).toMatchObject({
      fcgiRole: 'AUTHORIZER',
      apacheRole: 'AUTHENTICATOR',
      status: '401 Unauthorized',
    });
    expect(seen.user).toBeUndefined();
    // The same for credentials in a scheme that is not Basic.
    expect((await get('/env?case=bearer', 'Bearer t0ken')).status).toBe(401);
    expect(await contentReached()).toBe(false);
  });

  it('answers a wrong password with the 403 the authorizer chose', async () => {
    // Authoritative On passes the authorizer's status through unchanged, so a wrong password is the
    // example's 403 (not 401: the credentials were read and refused). Through `AuthBasicProvider
    // sluice-auth` instead, mod_auth_basic would turn every refusal into its own 401.
    const res = await get('/env?case=wrong-password', basic('alice', 'looking-glass'));
    expect(res.status).toBe(403);
    // Credentials were sent, so mod_auth_basic adds no challenge, and the authorizer sent none.
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(await decision('/env?case=wrong-password')).toMatchObject({
      apacheRole: 'AUTHENTICATOR',
      user: 'alice',
      status: '403 Forbidden',
    });
    expect((await get('/env?case=unknown-user', basic('mallory', 'wonderland'))).status).toBe(403);
    expect(await contentReached()).toBe(false);
  });

  it('answers 403 for a path the role may not see, however it is spelled', async () => {
    const cases: Array<[string, string, string]> = [
      ['alice', 'wonderland', '/internal/env'], // nobody's
      ['bob', 'builder', '/admin/env'], // admins only; bob is a reader
      // Apache passes REQUEST_URI raw; the authorizer resolves it as Apache does before judging.
      ['bob', 'builder', '/public/../admin/env'],
      ['bob', 'builder', '//admin/env'],
      ['bob', 'builder', '/%61dmin/env'],
    ];
    for (const [user, password, path] of cases) {
      const res = await get(path, basic(user, password));
      if (res.status !== 403) throw new Error(context(`${user} ${path}: ${res.status} ${res.text}`));
      expect(res.headers['www-authenticate']).toBeUndefined();
      expect(await decision(path)).toMatchObject({
        user,
        path: path.includes('internal') ? path : '/admin/env',
      });
    }
    expect(await contentReached()).toBe(false);
  });

  it('lets alice through to the content app with REMOTE_USER and the AUTH_ROLE variable', async () => {
    const res = await get('/env?case=alice', basic('alice', 'wonderland'));
    if (res.status !== 200) throw new Error(context(`status ${res.status}: ${res.text}`));
    const env = JSON.parse(res.text) as Record<string, string>;
    expect(env).toMatchObject({
      REMOTE_USER: 'alice',
      AUTH_TYPE: 'Basic',
      // `Variable-AUTH_ROLE: admin` from the authorizer: Apache strips the prefix, sets AUTH_ROLE in
      // the request's environment, and mod_proxy_fcgi sends that as the FastCGI param AUTH_ROLE.
      AUTH_ROLE: 'admin',
      FCGI_ROLE: 'RESPONDER',
      PATH_INFO: '/env',
    });
    // The content app never sees the password (CGIPassAuth Off), nor the authorizer-only params.
    expect(env.REMOTE_PASSWD).toBeUndefined();
    expect(env.HTTP_AUTHORIZATION).toBeUndefined();
    expect(env.FCGI_APACHE_ROLE).toBeUndefined();
    // Variable-* headers are moved into the environment, not passed to the client.
    expect(res.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase())).not.toContain(
      'variable-auth_role',
    );
    expect(await decision('/env?case=alice')).toMatchObject({
      fcgiRole: 'AUTHORIZER',
      apacheRole: 'AUTHENTICATOR',
      user: 'alice',
      path: '/env',
      role: 'admin',
      status: '200 OK',
    });
    expect(await contentReached()).toBe(true);

    const bob = await get('/env?case=bob', basic('bob', 'builder'));
    expect(bob.status).toBe(200);
    expect(JSON.parse(bob.text)).toMatchObject({ REMOTE_USER: 'bob', AUTH_ROLE: 'reader' });
    expect(await decision('/env?case=bob')).toMatchObject({ user: 'bob', role: 'reader', status: '200 OK' });
  });

  it('is not started without a test authorizer (it would ask whatever listens on port 9001)', async () => {
    await expect(
      startFrontEnd('apache', 'deploy/apache/sluice-authorizer.conf', {
        fastcgi: content!.addresses.fastcgi![0],
      }),
    ).rejects.toThrow(/fcgi:\/\/127\.0\.0\.1:9001\/ survived the harness rewrite/);
  });

  it('ran every check in the AUTHORIZER role, on a connection of its own', () => {
    const decisions = authorizer!.logLines().filter((line) => line.msg === 'authorizer decision');
    expect(decisions.length).toBe(11);
    for (const line of decisions) {
      // FCGI_ROLE from BEGIN_REQUEST's role; FCGI_APACHE_ROLE is what AuthnzFcgiCheckAuthnProvider sends.
      expect(line).toMatchObject({ fcgiRole: 'AUTHORIZER', apacheRole: 'AUTHENTICATOR' });
    }
    // mod_authnz_fcgi sends FCGI_KEEP_CONN 0 and connects anew for every check.
    expect(connections(authorizer!)).toBe(decisions.length);
  });
});
