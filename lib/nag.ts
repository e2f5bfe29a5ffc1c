import { Stack, Validations } from 'aws-cdk-lib';
import { CfnPolicy } from 'aws-cdk-lib/aws-iam';
// cdk-nag's own rendering of a policy resource into a finding id (`Resource::<...>`), so ours match it exactly.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import type { IConstruct } from 'constructs';

/** A cdk-nag rule (or one finding, `RuleId[FindingId]`) acknowledged on a construct and its children. */
export interface Acknowledgment {
  id: string;
  reason: string;
}

/**
 * cdk-nag 3 dropped `NagSuppressions`: a rule is acknowledged with CDK's own `Validations.of(construct)
 * .acknowledge(...)`, one rule per call, exact ids (no `appliesTo` regex).
 */
export function acknowledge(scope: IConstruct, ...rules: Acknowledgment[]): void {
  for (const rule of rules) Validations.of(scope).acknowledge(rule);
}

/**
 * Acknowledges the AwsSolutions-IAM5 (wildcard) findings of the IAM policies under `scope` whose resource
 * matches `resource` (a pattern, or exactly these resources): the cdk-nag 2 `appliesTo: [{ regex }]`. Needed where the finding id embeds a
 * cross-stack reference (e.g. `{"Fn::GetStackOutput":...}/index/*`), known only once references are
 * resolved: so this runs as a construct validation, after `prepare` and before cdk-nag's policy validation.
 */
export function acknowledgeWildcardResources(
  scope: IConstruct,
  resource: RegExp | { exactly: unknown[] },
  reason: string,
): void {
  scope.node.addValidation({
    validate: () => {
      for (const policy of scope.node.findAll()) {
        if (!(policy instanceof CfnPolicy)) continue;
        const stack = Stack.of(policy);
        const document = stack.resolve(policy.policyDocument) as { Statement?: { Resource?: unknown }[] };
        // `exactly`: these resources (tokens), rendered the way the policy renders them.
        const exact =
          resource instanceof RegExp
            ? undefined
            : new Set(resource.exactly.map((item) => flattenCfnReference(stack.resolve(item))));
        for (const statement of document.Statement ?? []) {
          for (const item of [statement.Resource ?? []].flat()) {
            const flat = flattenCfnReference(item);
            if (flat.includes('*') && (exact ? exact.has(flat) : (resource as RegExp).test(flat))) {
              acknowledge(policy, { id: `AwsSolutions-IAM5[Resource::${flat}]`, reason });
            }
          }
        }
      }
      return [];
    },
  });
}

/**
 * Acknowledges the AwsSolutions-IAM5 wildcard-action findings (`Action::kms:GenerateDataKey*`, `Action::kms:ReEncrypt*`)
 * of the IAM policies under `scope` whose wildcard KMS actions are granted on `keys` only: what CDK's grants on a
 * table, queue or bucket encrypted with a customer-managed key add. A wildcard action in a statement on any other
 * resource stays a finding. Runs as a construct validation, once the keys' (cross-stack) ARNs are resolved.
 */
export function acknowledgeKeyActionWildcards(scope: IConstruct, keys: { keyArn: string }[], reason: string): void {
  if (keys.length === 0) return;
  scope.node.addValidation({
    validate: () => {
      for (const policy of scope.node.findAll()) {
        if (!(policy instanceof CfnPolicy)) continue;
        const stack = Stack.of(policy);
        const keyArns = new Set(keys.map((key) => JSON.stringify(stack.resolve(key.keyArn))));
        const document = stack.resolve(policy.policyDocument) as {
          Statement?: { Action?: string | string[]; Resource?: unknown }[];
        };
        for (const statement of document.Statement ?? []) {
          const resources = [statement.Resource ?? []].flat();
          if (resources.length === 0 || !resources.every((item) => keyArns.has(JSON.stringify(item)))) continue;
          for (const action of [statement.Action ?? []].flat()) {
            if (action.startsWith('kms:') && action.includes('*')) {
              acknowledge(policy, { id: `AwsSolutions-IAM5[Action::${action}]`, reason });
            }
          }
        }
      }
      return [];
    },
  });
}
