import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import {
  apiRoutes,
  type FunctionId,
  type FunctionSpec,
  functions,
  queues,
  schedules,
  stateMachines,
} from '../lambdas/catalog';
import type { TableName } from '../src/core/table-schemas';
import { PaymentsApi } from './api';
import { CatalogFunction } from './functions';
import { PayInWorkflow } from './payin-workflow';
import { Schedules } from './schedules';
import { WorkQueues } from './work-queues';

export interface PaymentsStatelessStackProps extends StackProps {
  tables: Record<TableName, ITable>;
  pspSecret: ISecret;
  webhookSecret: ISecret;
}

/**
 * Compute and wiring, safe to destroy and redeploy: the functions of `lambdas/catalog.ts`, the pay-in
 * workflow with its failure queues and alarms, the catalog's work queues (with DLQs and alarms) and their
 * consumers, the REST API and the scheduled functions.
 */
export class PaymentsStatelessStack extends Stack {
  readonly functions: Record<FunctionId, NodejsFunction>;
  readonly payIn: PayInWorkflow;
  readonly workQueues: WorkQueues;
  readonly api: PaymentsApi;
  readonly schedules: Schedules;

  constructor(scope: Construct, id: string, props: PaymentsStatelessStackProps) {
    super(scope, id, props);
    const platformFeeBps = platformFeeBpsFromContext(this);
    const specs = Object.entries(functions) as [FunctionId, FunctionSpec][];
    // Queues first: their senders get their URLs, and they depend on no function.
    this.workQueues = new WorkQueues(this, 'WorkQueues', { queues });
    const catalogFunctions: Partial<Record<FunctionId, CatalogFunction>> = {};
    const created: Partial<Record<FunctionId, NodejsFunction>> = {};
    const create = (functionId: FunctionId, spec: FunctionSpec) => {
      if (spec.id !== functionId) throw new Error(`catalog: functions.${functionId} has id ${spec.id}`);
      const catalogFunction = new CatalogFunction(this, spec.id, {
        spec,
        tables: props.tables,
        pspSecret: props.pspSecret,
        webhookSecret: props.webhookSecret,
        queues: this.workQueues.queues,
        payInStateMachine: spec.startsPayIn ? this.payIn.stateMachine : undefined,
        platformFeeBps,
      });
      catalogFunctions[functionId] = catalogFunction;
      created[functionId] = catalogFunction.function;
    };

    // The state machine needs the ARNs of its step functions and the functions that start it need the
    // state machine's ARN: steps first, then the state machine, then everything else.
    const stepIds = new Set<FunctionId>(Object.values(stateMachines.payIn.substitutions));
    for (const [functionId, spec] of specs.filter(([functionId]) => stepIds.has(functionId))) {
      if (spec.startsPayIn) throw new Error(`catalog: ${functionId} is a pay-in step and starts pay-ins (a cycle)`);
      create(functionId, spec);
    }
    this.payIn = new PayInWorkflow(this, stateMachines.payIn.id, { spec: stateMachines.payIn, functions: created });
    for (const [functionId, spec] of specs.filter(([functionId]) => !stepIds.has(functionId))) {
      create(functionId, spec);
    }
    this.functions = created as Record<FunctionId, NodejsFunction>;

    // Task responses last, in policies of their own: some responders are steps of the machine (see allowTaskResponses).
    for (const [functionId, spec] of specs) {
      if (spec.respondsToTasks) catalogFunctions[functionId]?.allowTaskResponses(this.payIn.stateMachine);
    }
    this.workQueues.addConsumers(this.functions);

    this.api = new PaymentsApi(this, 'PaymentsApi', {
      routes: apiRoutes,
      functions: this.functions,
      authorizer: this.functions.Authorizer,
    });

    this.schedules = new Schedules(this, 'Schedules', { schedules, functions: this.functions });

    new CfnOutput(this, 'ApiUrl', { value: this.api.api.url, description: 'Base URL of the payments API' });
    new CfnOutput(this, 'PayInStateMachineArn', {
      value: this.payIn.stateMachine.stateMachineArn,
      description: 'The pay-in state machine',
    });
  }
}

/** Context `platformFeeBps` (default 0): an integer number of basis points, 0..10000. */
function platformFeeBpsFromContext(scope: Construct): string {
  const raw = scope.node.tryGetContext('platformFeeBps') ?? '0';
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 10_000) {
    throw new Error(`context platformFeeBps must be an integer in 0..10000, got '${raw}'`);
  }
  return String(value);
}
