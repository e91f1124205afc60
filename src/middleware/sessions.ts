// Sessions: a plain object per visitor in the environ, kept in a sealed cookie or a store, saved as the response starts.
import { parse, serialize } from 'cookie';
import type { Logger } from 'pino';
import { GatewayError, SluiceError, UsageError } from '../errors';
import type { Body, Chunk, Environ, HeaderList, Middleware, StartResponse } from '../gateway/types';
import { closeBody, isWhole } from './body';
import { FileStore } from './session-file-store';
import { newSessionId, SessionKeys, type Secret } from './session-keys';
import { MemoryStore, type SessionStore } from './session-store';

/** The environ key of the session's data: a plain object the app reads and changes. */
export const SESSION = 'sluice.session';
/** The environ key of the session's controls (SessionControl). */
export const SESSIONS = 'sluice.sessions';

/** What browsers keep of one cookie, name and value and attributes (RFC 6265 §6.1's minimum). */
const MAX_COOKIE_BYTES = 4096;

/** A session's data: any JSON-serializable object. */
export type SessionData = Record<string, unknown>;

export interface SessionsOptions {
  /**
   * At least one secret of 32 bytes or more. The first signs and encrypts; all of them verify and
   * decrypt, so a new secret goes first and an old one stays until its cookies have expired.
   */
  readonly secrets: Secret | readonly Secret[];
  /**
   * `'cookie'` (default): the data itself in the cookie, encrypted and authenticated, shared by every
   * worker and host knowing the secret; at most 4 KB. `'file'`: a file per session in `directory`.
   * `'memory'`: this process only, for tests and `--workers 0`. Or any SessionStore.
   */
  readonly store?: 'cookie' | 'file' | 'memory' | SessionStore;
  /** The file store's directory (made, mode 0700, when missing). */
  readonly directory?: string;
  /** The memory store's bound: past it the least recently used session is forgotten (default 10000). */
  readonly maxSessions?: number;
  /** Seconds a session lives after its last save; the cookie's Max-Age (default 86400, a day). */
  readonly maxAge?: number;
  /** Seconds between sweeps of the file store's expired files (default 600). */
  readonly sweepInterval?: number;
  /** The cookie's name (default `sluice_session`). */
  readonly cookieName?: string;
  /** The cookie's Path (default `/`). */
  readonly path?: string;
  /** The cookie's Domain (default none: this host only). */
  readonly domain?: string;
  /** The Secure flag (default: when the request came over HTTPS, `HTTPS=on`). */
  readonly secure?: boolean;
  /** The SameSite attribute (default `lax`). */
  readonly sameSite?: 'lax' | 'strict' | 'none';
}

/** `environ['sluice.sessions']`: what the app may do to its session besides changing its data. */
export interface SessionControl {
  /** The session's id; undefined for a visitor without a saved session. */
  readonly id: string | undefined;
  /** Keeps the data under a new id (after a login), so an id known before is worth nothing. */
  regenerate(): void;
  /** Empties the session and forgets it: the store's record and the cookie go. */
  destroy(): void;
}

/** Where a request's session stands; its data is saved at most once, when the response starts. */
type SessionState =
  /** No session came with the request, or its cookie was refused. */
  | 'new'
  /** A session came with the request. */
  | 'loaded'
  /** regenerate() or destroy(): the next save uses a new id and forgets the old one. */
  | 'renewed'
  /** The response started: the save is decided. */
  | 'saved';

/** A session as a cookie and its store give it. */
interface Found {
  readonly id: string;
  readonly data: SessionData;
}

/** A session as read: its id and its data as JSON text, compared at save time to see changes. */
interface Loaded {
  readonly id: string;
  readonly json: string;
}

/**
 * How the session travels: the data itself in the cookie, or a signed id in the cookie and the
 * data in a store. `read` gives a reason when it refuses a cookie.
 */
interface Carrier {
  read(value: string): Promise<Found | string> | Found | string;
  /** The cookie value carrying `json` under `id`, and the store's write to wait for before the head goes out. */
  write(id: string, json: string): { value: string; stored: Promise<void> | null };
  remove(id: string): Promise<void> | null;
}

/**
 * Gives gateway apps a session: `environ['sluice.session']` is a plain object, saved when the app
 * starts its response if (and only if) its JSON changed; `environ['sluice.sessions']` regenerates
 * or destroys it. Tampered, expired and unreadable cookies start a new session (logged at debug).
 * Two requests of one session run on their own copies: the one saved last wins.
 */
export function sessions(options: SessionsOptions): Middleware {
  const keys = new SessionKeys((options as Partial<SessionsOptions> | undefined)?.secrets);
  const maxAge = positive(options.maxAge, 86_400, 'maxAge');
  const cookieName = options.cookieName ?? 'sluice_session';
  const carrier = makeCarrier(options, keys, cookieName, maxAge);
  const perProcess = options.store === 'memory';
  let warned = false;
  return (app) => async (environ, startResponse) => {
    if (perProcess && !warned && environ['sluice.multiprocess'] === true) {
      warned = true;
      environ['sluice.log'].warn(
        'sessions: the memory store keeps sessions per worker; they are not shared, and a replaced worker loses them',
      );
    }
    const session = new RequestSession(environ, options, carrier, cookieName, maxAge);
    await session.load();
    let cookies: HeaderList | null = null;
    const starting: StartResponse = (status, headers, excInfo) => {
      // An error page that replaces the head (excInfo) carries the cookie decided the first time.
      cookies ??= session.save();
      const write = startResponse(status, [...headers, ...cookies], excInfo);
      return session.pending === null ? write : (chunk) => session.stored().then(() => write(chunk));
    };
    const body = await app(environ, starting);
    // Started already (the common case): the head waits here. Otherwise the body starts the response.
    if (cookies !== null || isWhole(body)) {
      await session.stored();
      return body;
    }
    return storedFirst(body, session);
  };
}

/**
 * A body that calls startResponse as it runs: its chunks, and its end, wait for the store's write,
 * since the head goes out with the first of them.
 */
async function* storedFirst(body: Body, session: RequestSession): AsyncGenerator<Chunk> {
  try {
    for await (const chunk of body as Iterable<Chunk> | AsyncIterable<Chunk>) {
      await session.stored();
      yield chunk;
    }
    await session.stored();
  } finally {
    await closeBody(body);
  }
}

/** One request's session: loaded before the app runs, saved once when the response starts. */
class RequestSession {
  private state: SessionState = 'new';
  private loaded: Loaded | null = null;
  /** A cookie of ours came with the request, even one refused: a session ending clears it. */
  private cookieSent = false;
  private savedId: string | undefined = undefined;
  /** The store's write and removals, which the head waits for. */
  pending: Promise<void> | null = null;

  constructor(
    private readonly environ: Environ,
    private readonly options: SessionsOptions,
    private readonly carrier: Carrier,
    private readonly cookieName: string,
    private readonly maxAge: number,
  ) {}

  get id(): string | undefined {
    if (this.state === 'saved') return this.savedId;
    return this.state === 'loaded' ? this.loaded?.id : undefined;
  }

  private get log(): Logger {
    return this.environ['sluice.log'];
  }

  async load(): Promise<void> {
    const header = this.environ.HTTP_COOKIE;
    const value = typeof header === 'string' ? parse(header)[this.cookieName] : undefined;
    let found: Found | string | undefined;
    if (value !== undefined) {
      this.cookieSent = true;
      found = await this.carrier.read(value);
    }
    let data: SessionData = {};
    if (typeof found === 'string') {
      this.log.debug({ reason: found }, 'session cookie refused: a new session starts');
    } else if (found !== undefined) {
      this.loaded = { id: found.id, json: JSON.stringify(found.data) };
      this.state = 'loaded';
      data = found.data;
    }
    this.environ[SESSION] = data;
    // The app gets these three alone, not save() and the rest of this object.
    const control = Object.defineProperty(
      { regenerate: () => this.regenerate(), destroy: () => this.destroy() },
      'id',
      { get: () => this.id, enumerable: true },
    ) as SessionControl;
    this.environ[SESSIONS] = Object.freeze(control);
  }

  regenerate(): void {
    this.change('regenerate');
    this.state = 'renewed';
  }

  destroy(): void {
    this.change('destroy');
    const data = this.environ[SESSION];
    // Emptied in place: the app may hold the object, and whatever it adds now starts a new session.
    if (isPlainObject(data)) for (const key of Object.keys(data)) delete data[key];
    else this.environ[SESSION] = {};
    this.state = 'renewed';
  }

  /**
   * Decides the save at the response's start: the Set-Cookie headers to add, at once; a store's
   * write runs meanwhile (`stored()`). A session that cannot be saved (not JSON, or a cookie over
   * 4 KB) is logged with its code and the response goes out without a cookie: the browser keeps
   * the session it had.
   */
  save(): HeaderList {
    const state = this.state;
    this.state = 'saved';
    const json = this.serialize();
    if (json === undefined) return [];
    const oldId = this.loaded?.id;
    const renewed = state === 'renewed';
    const unchanged = !renewed && json === (this.loaded?.json ?? '{}');
    if (json === '{}') {
      // An emptied or destroyed session is forgotten; a refused cookie is cleared so it is not sent again.
      const ending = this.loaded === null ? this.cookieSent : !unchanged;
      if (!ending) return [];
      if (oldId !== undefined) this.track(this.carrier.remove(oldId));
      return [['Set-Cookie', this.cookie('', 0)]];
    }
    if (unchanged) {
      this.savedId = oldId;
      return [];
    }
    const forgetting = renewed ? oldId : undefined;
    const id = renewed || oldId === undefined ? newSessionId() : oldId;
    const { value, stored } = this.carrier.write(id, json);
    const header = this.cookie(value, this.maxAge);
    if (Buffer.byteLength(header) > MAX_COOKIE_BYTES) {
      const error = new SluiceError(
        'ERR_SESSION_TOO_LARGE',
        `session cookie of ${Buffer.byteLength(header)} bytes, more than browsers keep (${MAX_COOKIE_BYTES}); not saved`,
      );
      this.log.error({ err: error, code: error.code }, 'session not saved: its cookie is too large');
      return [];
    }
    this.savedId = id;
    this.track(stored);
    if (forgetting !== undefined) this.track(this.carrier.remove(forgetting));
    return [['Set-Cookie', header]];
  }

  /** Resolves when the store has the session; rejects with the store's error (the response then fails). */
  stored(): Promise<void> {
    return this.pending ?? Promise.resolve();
  }

  private track(work: Promise<void> | null): void {
    if (work === null) return;
    const all = this.pending === null ? work : Promise.all([this.pending, work]).then(() => undefined);
    // Awaited before any chunk goes out; this keeps a failure from counting as unhandled meanwhile.
    all.catch(() => undefined);
    this.pending = all;
  }

  private serialize(): string | undefined {
    const data = this.environ[SESSION];
    try {
      if (!isPlainObject(data)) throw new TypeError('environ["sluice.session"] is not a plain object');
      return JSON.stringify(data);
    } catch (cause) {
      const error = new SluiceError('ERR_SESSION_DATA', `session not saved: ${(cause as Error).message}`, {
        cause,
      });
      this.log.error({ err: error, code: error.code }, 'session not saved: its data is not JSON');
      return undefined;
    }
  }

  private cookie(value: string, maxAge: number): string {
    const { options } = this;
    return serialize(this.cookieName, value, {
      maxAge,
      path: options.path ?? '/',
      domain: options.domain,
      httpOnly: true,
      secure: options.secure ?? this.environ['sluice.url_scheme'] === 'https',
      sameSite: options.sameSite ?? 'lax',
    });
  }

  /** regenerate() and destroy() act on the save, so they must come before it. */
  private change(what: string): void {
    if (this.state === 'saved') {
      throw new GatewayError('ERR_SESSION_AFTER_START', `sessions: ${what}() after the response started`);
    }
  }
}

function makeCarrier(
  options: SessionsOptions,
  keys: SessionKeys,
  cookieName: string,
  maxAge: number,
): Carrier {
  const store = options.store ?? 'cookie';
  if (store === 'cookie') return cookieCarrier(keys, cookieName, maxAge);
  if (store === 'memory') {
    return storeCarrier(keys, new MemoryStore(positive(options.maxSessions, 10_000, 'maxSessions')), maxAge);
  }
  if (store === 'file') {
    if (typeof options.directory !== 'string' || options.directory === '') {
      throw new UsageError('ERR_SESSION_OPTIONS', 'sessions: the file store needs a `directory`');
    }
    const sweepMs = positive(options.sweepInterval, 600, 'sweepInterval') * 1000;
    return storeCarrier(keys, new FileStore(options.directory, sweepMs), maxAge);
  }
  if (isStore(store)) {
    return storeCarrier(keys, store, maxAge);
  }
  throw new UsageError(
    'ERR_SESSION_OPTIONS',
    `sessions: store ${typeof store === 'string' ? store : typeof store} is not 'cookie', 'file', 'memory', nor an object with get, set and delete`,
  );
}

/** The data in the cookie: `{ i: id, e: expiry (ms), d: data }` sealed, expiry inside so a replayed old cookie dies. */
function cookieCarrier(keys: SessionKeys, cookieName: string, maxAge: number): Carrier {
  return {
    read(value) {
      const text = keys.open(value, cookieName);
      if (text === undefined) return 'not sealed with any of the secrets (tampered, or an old secret)';
      const sealed = parseJson(text) as { i?: unknown; e?: unknown; d?: unknown } | undefined;
      if (typeof sealed?.i !== 'string' || typeof sealed.e !== 'number' || !isPlainObject(sealed.d)) {
        return 'unreadable contents';
      }
      if (sealed.e <= Date.now()) return 'expired';
      return { id: sealed.i, data: sealed.d };
    },
    write(id, json) {
      const text = `{"i":${JSON.stringify(id)},"e":${Date.now() + maxAge * 1000},"d":${json}}`;
      return { value: keys.seal(text, cookieName), stored: null };
    },
    remove: () => null,
  };
}

/** A signed id in the cookie, the data in `store`. */
function storeCarrier(keys: SessionKeys, store: SessionStore, maxAge: number): Carrier {
  return {
    async read(value) {
      const id = keys.unsign(value);
      if (id === undefined) return 'bad signature (tampered, or an old secret)';
      const json = await store.get(id);
      if (json === undefined) return 'no such session (expired or destroyed)';
      const data = parseJson(json);
      return isPlainObject(data) ? { id, data } : 'unreadable contents in the store';
    },
    write: (id, json) => ({ value: keys.sign(id), stored: store.set(id, json, maxAge * 1000) }),
    remove: (id) => store.delete(id),
  };
}

function isStore(value: unknown): value is SessionStore {
  const store = value as Partial<SessionStore> | null;
  return (
    typeof store === 'object' &&
    store !== null &&
    [store.get, store.set, store.delete].every((method) => typeof method === 'function')
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is SessionData {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new UsageError('ERR_SESSION_OPTIONS', `sessions: ${name} must be a positive whole number`);
  }
  return value;
}
