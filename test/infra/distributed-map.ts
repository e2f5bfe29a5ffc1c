/**
 * What a state machine's role may do with Step Functions when its ASL has a Distributed Map (lib/workflow.ts,
 * `DISTRIBUTED_MAP_ACTIONS`): start its own executions, describe and stop them, and nothing more. Shared by
 * stacks.test.ts and reconciliation.test.ts.
 */
import { DISTRIBUTED_MAP_ACTIONS } from '../../lib/workflow';

export type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const toArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/**
 * `statements`: the `states:` statements of the role. StartExecution on the machine itself (`{Ref: machine}`),
 * DescribeExecution and StopExecution on `<machine's region and account>:execution:<machine's name>/*` (its map
 * runs' child executions, the name taken from the machine's own ARN), no other `states:` action, no other resource,
 * no "*".
 */
export function expectDistributedMapRights(statements: Statement[], machineLogicalId: string): void {
  const ref = JSON.stringify({ Ref: machineLogicalId });
  for (const statement of statements) expect(statement.Effect).toBe('Allow');
  const actions = statements.flatMap((s) => toArray(s.Action));
  expect([...new Set(actions)].sort()).toEqual(
    [...DISTRIBUTED_MAP_ACTIONS.onStateMachine, ...DISTRIBUTED_MAP_ACTIONS.onExecutions].sort(),
  );
  const start = statements.filter((s) => toArray(s.Action).includes('states:StartExecution'));
  expect(start).toHaveLength(1);
  expect(toArray(start[0]!.Action)).toEqual(['states:StartExecution']);
  expect(toArray(start[0]!.Resource)).toEqual([{ Ref: machineLogicalId }]);
  const onExecutions = statements.filter((s) => toArray(s.Action).includes('states:DescribeExecution'));
  expect(onExecutions).toHaveLength(1);
  expect([...toArray(onExecutions[0]!.Action)].sort()).toEqual([...DISTRIBUTED_MAP_ACTIONS.onExecutions].sort());
  const resources = toArray(onExecutions[0]!.Resource);
  expect(resources).toHaveLength(1);
  const resource = JSON.stringify(resources[0]);
  expect(resource).toContain(ref);
  expect(resource).toMatch(/:execution:.*\/\*"\]\]\}$/);
  for (const statement of statements) expect(toArray(statement.Resource)).not.toContain('*');
}
