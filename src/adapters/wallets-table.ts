/**
 * Seller wallets: one balance per seller and currency. A credit is one transaction with the order's
 * `wallet_updated` flag (condition: not yet set), so a retried credit is refused by DynamoDB itself.
 */
import { type DynamoDBDocumentClient, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { PaymentOrder } from '../domain/payment';
import { asRetryable, cancellationCodes } from './errors';

type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>;

export interface WalletBalance {
  seller_account: string;
  currency: string;
  balance_minor: number;
  updated_at: string;
}

export const walletKey = (seller: string, currency: string) => ({ pk: `WALLET#${seller}`, sk: currency });

export class WalletsTable {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Credits the order's net amount (amount less fee) to its seller's wallet, in one transaction with `guard`:
   * the conditional write that marks the order credited. Returns false, changing nothing, when the guard's
   * condition fails (the order was credited before).
   */
  async creditOnce(order: PaymentOrder, guard: TransactItems[number]): Promise<boolean> {
    const now = new Date().toISOString();
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            guard,
            {
              Update: {
                TableName: this.tableName,
                Key: walletKey(order.seller_account, order.currency),
                UpdateExpression:
                  'ADD balance_minor :amount SET seller_account = :seller, currency = :currency, updated_at = :now',
                ExpressionAttributeValues: {
                  ':amount': order.amount_minor - order.fee_minor,
                  ':seller': order.seller_account,
                  ':currency': order.currency,
                  ':now': now,
                },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (cancellationCodes(error)?.[0] === 'ConditionalCheckFailed') return false;
      throw asRetryable(error);
    }
  }

  async balances(seller: string): Promise<WalletBalance[]> {
    const page = await this.client
      .send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `WALLET#${seller}` },
        }),
      )
      .catch((error) => {
        throw asRetryable(error);
      });
    return (page.Items ?? []).map((item) => ({
      seller_account: item.seller_account as string,
      currency: item.currency as string,
      balance_minor: item.balance_minor as number,
      updated_at: item.updated_at as string,
    }));
  }
}
