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
