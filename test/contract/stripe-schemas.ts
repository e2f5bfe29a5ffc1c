// JSON Schemas of Stripe's objects, generated at test time from the INSTALLED stripe package's type
// declarations (node_modules/stripe/cjs/**/*.d.ts in stripe 23) by ts-json-schema-generator, starting from the
// `Contract_*` types of stripe-contract-types.ts.
//
// Generation takes a few seconds (it builds a TypeScript program over all of stripe's declarations), so the
// result is cached as JSON under node_modules/.cache/stripe-contract-schemas/ (os.tmpdir() when that is not
// writable), keyed on the stripe version, the generator and TypeScript versions, and the text of this file
// and of the entry file: upgrading stripe, or changing what is generated, regenerates.
//
// What the schemas enforce (choices made here and in contract-validator.ts):
// - required properties: every property declared without `?` must be present, `string | null` included
//   (null is accepted, a missing key is not: JSON has no `undefined`);
// - types and nullability, string literal unions as `enum`s, nested objects through `$ref`s (expandable
//   fields are `string | Object | null` unions);
// - additional properties are ALLOWED, deliberately: Stripe adds fields to its objects before the SDK's
//   declarations list them, so an extra field is not drift. A misspelt field still fails as a missing
//   required one.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Node as TsNode } from 'typescript';

export const ENTRY_FILE = path.join(__dirname, 'stripe-contract-types.ts');

/** The exported types of the entry file that become schemas (`#/definitions/<name>`). */
export const ROOT_TYPES = [
  'Contract_PaymentIntent',
  'Contract_CheckoutSession',
  'Contract_Charge',
  'Contract_PaymentMethod',
  'Contract_PaymentIntentList',
  'Contract_PaymentIntentSearchResult',
  'Contract_CheckoutSessionList',
  'Contract_ChargeList',
  'Contract_EventList',
  'Contract_EventBase',
  'Contract_Events',
  'Contract_ErrorEnvelope',
] as const;
export type RootType = (typeof ROOT_TYPES)[number];

export interface JsonSchema {
  [keyword: string]: unknown;
  definitions?: Record<string, JsonSchema>;
}

export interface StripeSchemas {
  stripeVersion: string;
  /** One draft-07 schema whose `definitions` hold the root types and everything they reference. */
  schema: JsonSchema & { definitions: Record<string, JsonSchema> };
  cacheFile: string;
  fromCache: boolean;
  /** How long generating took (when not read from the cache) or reading the cache took. */
  ms: number;
}

interface CacheFile {
  key: string;
  stripeVersion: string;
  generatedAt: string;
  schema: StripeSchemas['schema'];
}

const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
const CACHE_SUBDIR = 'stripe-contract-schemas';

/** Reads the cached schemas for the installed stripe version, generating (and caching) them when missing. */
export async function loadStripeSchemas(): Promise<StripeSchemas> {
  const started = Date.now();
  const stripeVersion = packageVersion('stripe');
  const key = cacheKey(stripeVersion);
  const fileName = `stripe-${stripeVersion}-${key.slice(0, 16)}.json`;
  const candidates = [
    path.join(PROJECT_ROOT, 'node_modules', '.cache', CACHE_SUBDIR),
    path.join(tmpdir(), CACHE_SUBDIR),
  ];
  for (const dir of candidates) {
    const cached = readCache(path.join(dir, fileName), key);
    if (cached) {
      return {
        stripeVersion,
        schema: cached.schema,
        cacheFile: path.join(dir, fileName),
        fromCache: true,
        ms: Date.now() - started,
      };
    }
  }
  const schema = await generateSchemas();
  const contents: CacheFile = { key, stripeVersion, generatedAt: new Date().toISOString(), schema };
  const cacheFile = writeCache(candidates, fileName, JSON.stringify(contents));
  return { stripeVersion, schema, cacheFile, fromCache: false, ms: Date.now() - started };
}

/** Generates the schemas without the cache (what loadStripeSchemas does on a miss). */
export async function generateSchemas(): Promise<StripeSchemas['schema']> {
  // Loaded only on a cache miss: TypeScript alone takes a second to load.
  const ts = (await import('typescript')).default;
  const tsj = await import('ts-json-schema-generator');

  // Our own program rather than the generator's default one (whose options turn strictNullChecks off), so
  // that the declarations are read as the project's strict compiler reads them, `| null` included.
  const program = ts.createProgram([ENTRY_FILE], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    esModuleInterop: true,
    types: ['node'],
  });
  // Only the entry file is type-checked (quick): after a stripe upgrade that renamed a type, this says which.
  const entry = program.getSourceFile(ENTRY_FILE);
  const diagnostics = entry ? program.getSemanticDiagnostics(entry) : [];
  if (diagnostics.length > 0) {
    const text = diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n');
    throw new Error(
      `${path.relative(PROJECT_ROOT, ENTRY_FILE)} does not compile against the installed stripe:\n${text}`,
    );
  }

  const config = {
    ...tsj.DEFAULT_CONFIG,
    path: ENTRY_FILE,
    type: [...ROOT_TYPES],
    expose: 'export' as const,
    topRef: true,
    jsDoc: 'none' as const,
    // See the header: extra properties are not drift.
    additionalProperties: true,
    skipTypeCheck: true,
    encodeRefs: false,
    sortProps: true,
  };
  const restoreNaming = qualifyDefinitionNames(tsj.ExposeNodeParser.prototype);
  try {
    const generator = new tsj.SchemaGenerator(
      program,
      tsj.createParser(program, config),
      tsj.createFormatter(config),
      config,
    );
    const schema = generator.createSchema([...ROOT_TYPES]) as JsonSchema;
    return postProcess(schema, documentedErrorTypes(ts, program));
  } finally {
    restoreNaming();
  }
}

/**
 * Definition names. The generator names a definition by its fully qualified TypeScript name minus the
 * module: stripe 23 declares `Checkout.Session` as `interface Session` in resources/Checkout/Sessions.d.ts and
 * `Issuing.Card` as `interface Card` in resources/Issuing/Cards.d.ts, so both `Card`s (and the several
 * `Session`s) get the same name and the generator refuses to continue ("Type "Card" has multiple
 * definitions"). It has no option for this, so while generating, the (protected) method that names
 * definitions is wrapped to prefix the resource's sub-folder, which gives the SDK's public names
 * (`Issuing.Card`, `Checkout.Session`). Returns the function restoring the original method.
 */
function qualifyDefinitionNames(prototype: object): () => void {
  const target = prototype as { getDefinitionName?: (node: TsNode, context: unknown) => string };
  const original = target.getDefinitionName;
  if (typeof original !== 'function') {
    throw new Error(
      'ts-json-schema-generator no longer has ExposeNodeParser.getDefinitionName: see qualifyDefinitionNames in test/contract/stripe-schemas.ts',
    );
  }
  target.getDefinitionName = function (this: unknown, node: TsNode, context: unknown): string {
    const name = original.call(this, node, context);
    const file = node.getSourceFile().fileName.replace(/\\/g, '/');
    const folder = /\/node_modules\/stripe\/(?:cjs|esm|types)\/resources\/(.+)\/[^/]+\.d\.ts$/.exec(file)?.[1];
    return folder ? `${folder.replace(/\//g, '.')}.${name}` : name;
  };
  return () => {
    target.getDefinitionName = original;
  };
}

/**
 * The values of `error.type` that StripeRawError's own documentation lists ("One of `api_error`,
 * `card_error`, ..."), or undefined when its wording no longer lists them.
 */
function documentedErrorTypes(
  ts: typeof import('typescript'),
  program: import('typescript').Program,
): string[] | undefined {
  const checker = program.getTypeChecker();
  const entry = program.getSourceFile(ENTRY_FILE);
  const envelope = entry?.statements.find(
    (statement): statement is import('typescript').InterfaceDeclaration =>
      ts.isInterfaceDeclaration(statement) && statement.name.text === 'Contract_ErrorEnvelope',
  );
  const error = envelope?.members.find((member) => member.name?.getText() === 'error');
  const omit = error && ts.isPropertySignature(error) ? error.type : undefined;
  const raw = omit && ts.isTypeReferenceNode(omit) ? omit.typeArguments?.[0] : undefined;
  if (!raw) return undefined;
  const typeProperty = checker.getTypeFromTypeNode(raw).getProperty('type');
  const doc = typeProperty ? ts.displayPartsToString(typeProperty.getDocumentationComment(checker)) : '';
  const values = /one of (.+)$/im
    .exec(doc)?.[1]
    ?.match(/`[a-z_]+`/g)
    ?.map((value) => value.slice(1, -1));
  return values && values.length > 0 ? values : undefined;
}

/** Wire-format adjustments, each a deliberate departure from a literal reading of the declarations. */
function postProcess(schema: JsonSchema, errorTypes: string[] | undefined): StripeSchemas['schema'] {
  const definitions = schema.definitions ?? {};
  // `StripeRawError.type` is declared as `RawErrorType`, the union of every error type the SDK handles (v1,
  // v2 and OAuth ones, `rate_limit_error` too), but the same property is documented as "One of `api_error`,
  // `card_error`, `idempotency_error`, or `invalid_request_error`": the types of a v1 error body. The
  // contract takes the documented list (read from the installed declarations), falling back to the union
  // when the documentation no longer lists values.
  const envelopeError = (definitions.Contract_ErrorEnvelope?.properties as Record<string, JsonSchema> | undefined)
    ?.error;
  const errorProperties = envelopeError?.properties as Record<string, JsonSchema> | undefined;
  if (errorTypes && errorProperties?.type) {
    errorProperties.type = { type: 'string', enum: errorTypes };
  }
  // The SDK declares decimal fields (`unit_amount_decimal`...) as its branded `Decimal` class, which it
  // builds from the decimal STRING Stripe sends: on the wire the field is a string.
  if (definitions.Decimal) {
    definitions.Decimal = { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]+)?$' };
  }
  // stripe declares its "open" enums as `'canceled' | 'processing' | ... | OtherString`, where
  // `OtherString = string & Record<never, never>`: literally any string, so that integrations handle values
  // Stripe adds later. Taken literally no enum would be checked, and a simulator sending status 'bogus' would
  // pass. The contract CLOSES them: the simulator must only send values the installed SDK lists (a value
  // Stripe added since is drift to look at, not noise).
  closeOpenEnums(definitions);
  for (const name of ROOT_TYPES) {
    if (!definitions[name]) throw new Error(`the generator produced no definition for ${name}`);
  }
  return { ...schema, definitions };
}

const OTHER_STRING_REF = '#/definitions/OtherString';

/** Drops the `OtherString` alternative from every union of string literals, which becomes an `enum`. */
function closeOpenEnums(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) closeOpenEnums(item);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const schema = node as JsonSchema;
  for (const value of Object.values(schema)) closeOpenEnums(value);
  const anyOf = schema.anyOf;
  if (!Array.isArray(anyOf) || !anyOf.some((branch: JsonSchema) => branch.$ref === OTHER_STRING_REF)) return;
  const closed = (anyOf as JsonSchema[]).filter((branch) => branch.$ref !== OTHER_STRING_REF);
  const literals = closed.every((branch) => branch.type === 'string' && typeof branch.const === 'string');
  delete schema.anyOf;
  if (closed.length === 0) schema.type = 'string';
  else if (literals) Object.assign(schema, { type: 'string', enum: closed.map((branch) => branch.const) });
  else if (closed.length === 1) Object.assign(schema, closed[0]);
  else schema.anyOf = closed;
}

function cacheKey(stripeVersion: string): string {
  const hash = createHash('sha256');
  hash.update(`stripe ${stripeVersion}\n`);
  hash.update(`ts-json-schema-generator ${packageVersion('ts-json-schema-generator')}\n`);
  hash.update(`typescript ${packageVersion('typescript')}\n`);
  hash.update(readFileSync(ENTRY_FILE));
  hash.update(readFileSync(__filename));
  return hash.digest('hex');
}

function readCache(file: string, key: string): CacheFile | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
    return cached.key === key && cached.schema?.definitions ? cached : undefined;
  } catch {
    return undefined; // A torn or foreign file: generate again.
  }
}

/** Writes atomically (temp file + rename) to the first writable directory; returns the file written. */
function writeCache(dirs: string[], fileName: string, contents: string): string {
  let lastError: unknown;
  for (const dir of dirs) {
    const file = path.join(dir, fileName);
    try {
      mkdirSync(dir, { recursive: true });
      const temp = `${file}.${process.pid}.tmp`;
      writeFileSync(temp, contents);
      renameSync(temp, file);
      // Older generations (another stripe version, an earlier entry file) are of no further use.
      for (const stale of readdirSync(dir)) {
        if (/^stripe-.*\.json$/.test(stale) && stale !== fileName) rmSync(path.join(dir, stale), { force: true });
      }
      return file;
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`cannot write the schema cache in ${dirs.join(' or ')}: ${String(lastError)}`);
}

/** The version of an installed package, found from its resolved entry point (stripe exports no package.json). */
export function packageVersion(name: string): string {
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (parsed.name === name && parsed.version) return parsed.version;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the package.json of ${name}`);
    dir = parent;
  }
}
