import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

/** Requests per 5 minutes from one IP above which the rate-based rule blocks that IP (context `wafRateLimit`). */
export const DEFAULT_WAF_RATE_LIMIT = 2000;
/** The window of the rate-based rule, in seconds. */
export const WAF_RATE_WINDOW_SECONDS = 300;
/** The rule of the common rule set that blocks request bodies over 8 KB, overridden to Count (see below). */
export const BODY_SIZE_RULE = 'SizeRestrictions_BODY';

export interface ApiFirewallProps {
  /** The REST API stage the web ACL protects. */
  stage: Stage;
  /** Requests per IP per 5 minutes (WAF accepts 10 .. 2,000,000,000). */
  rateLimit: number;
}

const visibility = (metricName: string): CfnWebACL.VisibilityConfigProperty => ({
  cloudWatchMetricsEnabled: true,
  metricName,
  sampledRequestsEnabled: true,
});

const managedRuleGroup = (
  name: string,
  priority: number,
  ruleActionOverrides?: CfnWebACL.RuleActionOverrideProperty[],
): CfnWebACL.RuleProperty => ({
  name,
  priority,
  // The group's own actions (Block) apply, except the rules overridden in ruleActionOverrides.
  overrideAction: { none: {} },
  statement: { managedRuleGroupStatement: { vendorName: 'AWS', name, ruleActionOverrides } },
  visibilityConfig: visibility(name),
});

/**
 * A regional WAF web ACL on the API stage: a rate-based rule per client IP, then the AWS managed common rule set
 * (OWASP-style: XSS, LFI, SSRF, bad bots...) and known-bad-inputs rule set (Log4j/JNDI, Java deserialization,
 * localhost Host headers...). Allows what no rule blocks; CloudWatch metrics and sampled requests on every rule.
 */
export class ApiFirewall extends Construct {
  readonly webAcl: CfnWebACL;
  readonly association: CfnWebACLAssociation;

  constructor(scope: Construct, id: string, props: ApiFirewallProps) {
    super(scope, id);
    const { rateLimit } = props;
    if (!Number.isInteger(rateLimit) || rateLimit < 10 || rateLimit > 2_000_000_000) {
      throw new Error(`the WAF rate limit must be an integer in 10..2000000000, got ${rateLimit}`);
    }
    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      description: 'Marketplace payments API: per-IP rate limit, AWS managed common and known-bad-inputs rules',
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('PaymentsApiWebAcl'),
      rules: [
        {
          // First: a flooding IP is blocked before the managed rules are evaluated for it.
          name: 'RateLimitPerIp',
          priority: 0,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: rateLimit,
              aggregateKeyType: 'IP',
              evaluationWindowSec: WAF_RATE_WINDOW_SECONDS,
            },
          },
          visibilityConfig: visibility('RateLimitPerIp'),
        },
        // SizeRestrictions_BODY blocks every body over 8 KB, which would refuse legitimate requests: POST
        // /v1/payments accepts up to 64 KB (its handler answers 413 above that), and the PSP's webhook events
        // (POST /v1/webhooks/psp) can be larger still. It is set to Count (visible in the metrics and
        // sampled requests, never blocking); body size is enforced where the limits are known: the handlers, and
        // API Gateway's own 10 MB payload limit. The other body rules keep blocking: WAF inspects the first 16 KB
        // of an API Gateway request body.
        managedRuleGroup('AWSManagedRulesCommonRuleSet', 1, [{ name: BODY_SIZE_RULE, actionToUse: { count: {} } }]),
        managedRuleGroup('AWSManagedRulesKnownBadInputsRuleSet', 2),
      ],
    });
    this.association = new CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.stage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
  }
}
