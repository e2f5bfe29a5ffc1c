/**
 * After the whole integration run: every item of every table and every captured log line is searched for card
 * numbers. A finding is any of the test cards typed in the tests, or a Luhn-valid number in a card's shape starting
 * with 2-6 (the card brands' ranges; runs starting with 1 are our epoch-millisecond timestamps): 13-19 digits in a
 * row not touching letters or digits (so not a piece of a hex id or UUID), or digits grouped as cards are printed
 * (4-4-4-4, 4-6-5) with a space or a dash.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { luhnValid } from '../../src/api/card-data';
import { allTableSchemas } from '../../src/core/table-schemas';

const TEST_CARDS = ['4242424242424242', '4000000000000002', '4000002760003184'];
const SHAPES = [
  /(?<![0-9A-Za-z])\d{13,19}(?![0-9A-Za-z])/g,
  /(?<![0-9A-Za-z])\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}(?![0-9A-Za-z])/g,
  /(?<![0-9A-Za-z])\d{4}([ -])\d{6}\1\d{4,5}(?![0-9A-Za-z])/g,
];

export function findCardNumbers(text: string): string[] {
  const found: string[] = [];
  const compact = text.replace(/[ -]/g, '');
  for (const card of TEST_CARDS) if (compact.includes(card)) found.push(`test card ${card.slice(-4)}`);
  for (const shape of SHAPES) {
    for (const match of text.matchAll(shape)) {
      const digits = match[0].replace(/\D/g, '');
      if (digits.length >= 13 && digits.length <= 19 && /^[2-6]/.test(digits) && luhnValid(digits)) {
        found.push(`Luhn-valid number ending ${digits.slice(-4)}`);
      }
    }
  }
  return found;
}

export interface CardScanReport {
  items: number;
  logLines: number;
  findings: { where: string; what: string[] }[];
}

export async function scanForCardNumbers(dynamodbEndpoint: string, logDir: string): Promise<CardScanReport> {
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: dynamodbEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    }),
  );
  const report: CardScanReport = { items: 0, logLines: 0, findings: [] };
  for (const schema of allTableSchemas) {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: schema.id, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) {
        report.items++;
        const what = findCardNumbers(JSON.stringify(item, (_, v) => (v instanceof Set ? [...v] : v)));
        if (what.length > 0) report.findings.push({ where: `${schema.id} ${String(item.pk)}`, what });
      }
      start = page.LastEvaluatedKey;
    } while (start);
  }
  client.destroy();
  for (const file of fs.existsSync(logDir) ? fs.readdirSync(logDir).filter((f) => f.endsWith('.log')) : []) {
    const lines = fs.readFileSync(path.join(logDir, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      report.logLines++;
      const what = findCardNumbers(line);
      if (what.length > 0) report.findings.push({ where: `${file}:${i + 1}`, what });
    });
  }
  return report;
}
