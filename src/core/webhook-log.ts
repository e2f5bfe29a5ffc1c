/**
 * A log of the PSP webhook events a capability applied, one item per event id (`WEBHOOK#<id>`/`WEBHOOK` in the
 * capability's own table), written once (conditional put): a redelivered event is seen and skipped.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { asRetryable } from './errors';

const key = (eventId: string) => ({ pk: `WEBHOOK#${eventId}`, sk: 'WEBHOOK' });

export class WebhookLogTable {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async webhookSeen(eventId: string): Promise<boolean> {
    const { Item } = await this.client
      .send(new GetCommand({ TableName: this.tableName, Key: key(eventId), ConsistentRead: true }))
      .catch((error) => {
        throw asRetryable(error);
      });
    return Item !== undefined;
  }

  /** Records an event as applied, once; false when it was recorded before. */
  async recordWebhook(eventId: string, details: Record<string, unknown>): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...key(eventId),
            entity: 'WEBHOOK_EVENT',
            event_id: eventId,
            ...details,
            applied_at: new Date().toISOString(),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw asRetryable(error);
    }
  }
}
