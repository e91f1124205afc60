// Session secrets: checked at start, each turned into keys that sign ids (HMAC) and seal cookie data (AES-GCM).
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { UsageError } from '../errors';

/** A secret as short as this could be guessed offline from one signed cookie. */
const MIN_SECRET_BYTES = 32;

/** A secret: a string (its UTF-8 bytes count) or raw bytes. */
export type Secret = string | Uint8Array;

/** Session ids: 18 random bytes as base64url, safe in a cookie and as a file name. */
const ID_PATTERN = /^[A-Za-z0-9_-]{24}$/;
const MAC_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function newSessionId(): string {
  return randomBytes(18).toString('base64url');
}

export function isSessionId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/**
 * The keys of a list of secrets, first secret first: the first signs and seals, every one verifies
 * and opens, so a new secret is put in front and an old one dropped once its cookies have expired.
 */
export class SessionKeys {
  private readonly signing: readonly Buffer[];
  private readonly sealing: readonly Buffer[];

  constructor(secrets: unknown) {
    const raw = checkSecrets(secrets);
    // One key per purpose (HKDF): a MAC key never doubles as a cipher key.
    this.signing = raw.map((secret) => derive(secret, 'sluice session id signature'));
    this.sealing = raw.map((secret) => derive(secret, 'sluice session cookie encryption'));
  }

  /** `id.mac`: the id and its HMAC-SHA256 under the first secret. */
  sign(id: string): string {
    return `${id}.${mac(this.signing[0], id).toString('base64url')}`;
  }

  /** The id of a value `sign` made under any of the secrets; undefined for anything else. */
  unsign(value: string): string | undefined {
    const dot = value.indexOf('.');
    const id = value.slice(0, dot);
    if (dot < 0 || !isSessionId(id)) return undefined;
    const given = Buffer.from(value.slice(dot + 1), 'base64url');
    if (given.length !== MAC_BYTES) return undefined;
    return this.signing.some((key) => timingSafeEqual(mac(key, id), given)) ? id : undefined;
  }

  /**
   * `text` encrypted and authenticated with AES-256-GCM under the first secret, as base64url of
   * iv | ciphertext | tag. `context` (the cookie name) is authenticated too, so a value sealed for
   * one cookie is refused in another.
   */
  seal(text: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.sealing[0], iv);
    cipher.setAAD(Buffer.from(context));
    const sealed = Buffer.concat([iv, cipher.update(text, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return sealed.toString('base64url');
  }

  /** The text of a value `seal` made under any of the secrets; undefined when altered or foreign. */
  open(value: string, context: string): string | undefined {
    const sealed = Buffer.from(value, 'base64url');
    if (sealed.length < IV_BYTES + TAG_BYTES) return undefined;
    const iv = sealed.subarray(0, IV_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const data = sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES);
    for (const key of this.sealing) {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(tag);
      try {
        return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
      } catch {
        // The tag does not match under this key: try the next secret.
      }
    }
    return undefined;
  }
}

/** One secret or a list, each at least MIN_SECRET_BYTES long; refused with ERR_SESSION_SECRET otherwise. */
function checkSecrets(secrets: unknown): Buffer[] {
  const list: unknown[] = Array.isArray(secrets) ? secrets : secrets === undefined ? [] : [secrets];
  if (list.length === 0) {
    throw new UsageError('ERR_SESSION_SECRET', 'sessions: no secret given (option `secrets`)');
  }
  return list.map((secret, index) => {
    if (typeof secret !== 'string' && !(secret instanceof Uint8Array)) {
      throw new UsageError('ERR_SESSION_SECRET', `sessions: secret ${index} is neither a string nor bytes`);
    }
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new UsageError(
        'ERR_SESSION_SECRET',
        `sessions: secret ${index} has ${bytes.length} bytes, fewer than ${MIN_SECRET_BYTES}`,
      );
    }
    return bytes;
  });
}

function derive(secret: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'sluice', purpose, 32));
}

function mac(key: Buffer, id: string): Buffer {
  return createHmac('sha256', key).update(id).digest();
}
