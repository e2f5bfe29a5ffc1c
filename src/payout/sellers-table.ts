/** Sellers in DynamoDB: `SELLER#<seller account>` items and `ACCOUNT#<psp account id>` guards (one seller each). */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { asRetryable, cancellationCodes, retryable } from '../core/errors';
import type { PspAccount } from '../psp/connect-types';
import type { SellersStore } from './ports';
import type { Seller } from './seller';

const sellerKey = (seller: string) => ({ pk: `SELLER#${seller}` });
const accountKey = (account: string) => ({ pk: `ACCOUNT#${account}` });

const conditionFailed = (error: unknown) => (error as Error).name === 'ConditionalCheckFailedException';

function toSeller(item: Record<string, unknown>): Seller {
  const { pk: _pk, entity: _entity, ...rest } = item;
  return { requirements: [], payouts_enabled: false, ...rest } as unknown as Seller;
}

export class SellersTable implements SellersStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(sellerAccount: string): Promise<Seller | undefined> {
    const { Item } = await retryable(() =>
      this.client.send(
        new GetCommand({ TableName: this.tableName, Key: sellerKey(sellerAccount), ConsistentRead: true }),
      ),
    );
    return Item && Item.entity === 'SELLER' ? toSeller(Item) : undefined;
  }

  async create(seller: Seller): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...sellerKey(seller.seller_account), entity: 'SELLER', ...seller },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw asRetryable(error);
    }
  }

  async updateContact(sellerAccount: string, fields: Pick<Seller, 'email'>): Promise<void> {
    await retryable(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sellerKey(sellerAccount),
          UpdateExpression: 'SET email = :email, updated_at = :now',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':email': fields.email, ':now': new Date().toISOString() },
        }),
      ),
    );
  }

  async setAccount(sellerAccount: string, account: PspAccount): Promise<boolean> {
    const now = new Date().toISOString();
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: sellerKey(sellerAccount),
                UpdateExpression:
                  'SET psp_account_id = :account, payouts_enabled = :enabled, requirements = :requirements, manual_payouts = :manual, updated_at = :now' +
                  (account.disabledReason ? ', disabled_reason = :reason' : ' REMOVE disabled_reason'),
                ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(psp_account_id)',
                ExpressionAttributeValues: {
                  ':account': account.accountId,
                  ':enabled': account.payoutsEnabled,
                  ':manual': account.manualPayouts,
                  ':requirements': account.requirements,
                  ':now': now,
                  ...(account.disabledReason ? { ':reason': account.disabledReason } : {}),
                },
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: { ...accountKey(account.accountId), entity: 'ACCOUNT', seller_account: sellerAccount },
                ConditionExpression: 'attribute_not_exists(pk) OR seller_account = :seller',
                ExpressionAttributeValues: { ':seller': sellerAccount },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (cancellationCodes(error)?.includes('ConditionalCheckFailed')) return false;
      throw asRetryable(error);
    }
  }

  async applyAccount(sellerAccount: string, account: PspAccount, observedAt: string): Promise<Seller | undefined> {
    const seller = await this.get(sellerAccount);
    if (!seller || seller.psp_account_id !== account.accountId) return seller;
    // A pause set before this observation is lifted when the PSP pays out to the account again.
    const lift = Boolean(seller.payouts_paused_at && seller.payouts_paused_at < observedAt && account.payoutsEnabled);
    const removes = [
      ...(account.disabledReason ? [] : ['disabled_reason']),
      ...(lift ? ['payouts_paused_reason', 'payouts_paused_at'] : []),
    ];
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sellerKey(sellerAccount),
          UpdateExpression:
            'SET payouts_enabled = :enabled, requirements = :requirements, manual_payouts = :manual, updated_at = :now, account_observed_at = :observed' +
            (account.disabledReason ? ', disabled_reason = :reason' : '') +
            (removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''),
          // An older observation never overwrites a newer one (webhooks arrive in any order).
          ConditionExpression:
            'attribute_exists(pk) AND (attribute_not_exists(account_observed_at) OR account_observed_at <= :observed)' +
            (lift ? ' AND payouts_paused_at = :pausedAt' : ''),
          ExpressionAttributeValues: {
            ':enabled': account.payoutsEnabled,
            ':requirements': account.requirements,
            ':manual': account.manualPayouts,
            ':now': new Date().toISOString(),
            ':observed': observedAt,
            ...(account.disabledReason ? { ':reason': account.disabledReason } : {}),
            ...(lift ? { ':pausedAt': seller.payouts_paused_at } : {}),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? toSeller(Attributes) : undefined;
    } catch (error) {
      if (conditionFailed(error)) return this.get(sellerAccount);
      throw asRetryable(error);
    }
  }

  async pause(sellerAccount: string, reason: string, at: string): Promise<void> {
    await retryable(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sellerKey(sellerAccount),
          UpdateExpression: 'SET payouts_paused_reason = :reason, payouts_paused_at = :at, updated_at = :at',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':reason': reason, ':at': at },
        }),
      ),
    );
  }

  async sellerOfAccount(pspAccountId: string): Promise<string | undefined> {
    const { Item } = await retryable(() =>
      this.client.send(
        new GetCommand({ TableName: this.tableName, Key: accountKey(pspAccountId), ConsistentRead: true }),
      ),
    );
    return Item ? String(Item.seller_account) : undefined;
  }

  async page(startKey: string | undefined, limit: number): Promise<{ sellers: Seller[]; next?: string }> {
    const page = await retryable(() =>
      this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          Limit: limit,
          ExclusiveStartKey: startKey ? { pk: startKey } : undefined,
          FilterExpression: 'entity = :seller',
          ExpressionAttributeValues: { ':seller': 'SELLER' },
          ConsistentRead: true,
        }),
      ),
    );
    return {
      sellers: (page.Items ?? []).map(toSeller),
      ...(page.LastEvaluatedKey ? { next: String(page.LastEvaluatedKey.pk) } : {}),
    };
  }
}
