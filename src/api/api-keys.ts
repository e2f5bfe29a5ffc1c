/**
 * API secret keys: `mpk_<key id>_<secret>`. Only a salted scrypt hash of the secret is stored, under the key id;
 * the plaintext is shown once, when the key is issued.
 */
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;
const KEY_FORMAT = /^mpk_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/;
const HASH_BYTES = 32;

export interface ApiPrincipal {
  keyId: string;
}

export class ApiKeys {
  /** Verified keys by SHA-256 of the presented key, so a warm function does not run scrypt on every request. */
  private readonly verified = new Map<string, { principal: ApiPrincipal; expiresAt: number }>();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly cacheMs = 60_000,
  ) {}

  /**
   * Creates a key and returns its plaintext: the only time it exists outside the caller.
   * `preset` registers a given key instead (a fixed dev key); it must have the key format.
   */
  async issue(label: string, preset?: string): Promise<{ keyId: string; secretKey: string }> {
    const match = preset === undefined ? undefined : KEY_FORMAT.exec(preset);
    if (preset !== undefined && !match) throw new Error('a preset API key must look like mpk_<16 hex>_<43 base64url>');
    const keyId = match?.[1] ?? randomBytes(8).toString('hex');
    const secret = match?.[2] ?? randomBytes(32).toString('base64url');
    const salt = randomBytes(16);
    const hash = await scrypt(secret, salt, HASH_BYTES);
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: `KEY#${keyId}`,
          key_id: keyId,
          label,
          salt: salt.toString('base64'),
          hash: hash.toString('base64'),
          algorithm: 'scrypt-N16384-r8-p1',
          created_at: new Date().toISOString(),
          revoked: false,
        },
        ConditionExpression: preset === undefined ? 'attribute_not_exists(pk)' : undefined,
      }),
    );
    return { keyId, secretKey: `mpk_${keyId}_${secret}` };
  }

  /** The principal of a valid, unrevoked key, or undefined. Never throws on bad input. */
  async verify(presented: string | undefined): Promise<ApiPrincipal | undefined> {
    const match = presented ? KEY_FORMAT.exec(presented) : null;
    if (!presented || !match) return undefined;
    const fingerprint = createHash('sha256').update(presented).digest('base64');
    const cached = this.verified.get(fingerprint);
    if (cached && cached.expiresAt > Date.now()) return cached.principal;
    const [, keyId = '', secret = ''] = match;
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: `KEY#${keyId}` }, ConsistentRead: true }),
    );
    if (!Item || Item.revoked === true) return undefined;
    const expected = Buffer.from(String(Item.hash), 'base64');
    const actual = await scrypt(secret, Buffer.from(String(Item.salt), 'base64'), HASH_BYTES);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
    const principal = { keyId };
    this.verified.set(fingerprint, { principal, expiresAt: Date.now() + this.cacheMs });
    return principal;
  }
}

/** The bearer token of an `Authorization` header value, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header.trim()) : null;
  return match?.[1];
}
