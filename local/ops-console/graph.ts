/**
 * A state machine's graph, from its ASL definition, as a flow of HTML boxes (one row per step away from the start,
 * a Map's or Parallel's states inside its box), each state coloured by its outcome in one execution.
 */
import type { ExecutionStatus, HistoryEvent } from '../stepfunctions/engine';
import { esc } from './html';

export type Outcome = 'succeeded' | 'failed' | 'retried' | 'caught' | 'in-progress' | 'not-entered';

export const OUTCOME_LABELS: Record<Outcome, string> = {
  succeeded: 'succeeded',
  failed: 'failed',
  retried: 'retried, then succeeded',
  caught: 'failed, caught',
  'in-progress': 'in progress',
  'not-entered': 'not entered',
};

interface AslState {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: { Next?: string }[];
  Catch?: { Next?: string; ErrorEquals?: string[] }[];
  Retry?: unknown[];
  Iterator?: AslMachine;
  ItemProcessor?: AslMachine;
  Branches?: AslMachine[];
}
interface AslMachine {
  StartAt: string;
  States: Record<string, AslState>;
}

export interface StateRun {
  outcome: Outcome;
  entered: number;
  failures: number;
  retries: number;
}

/** The name of the state an event is about, if any. */
export function eventStateName(event: HistoryEvent): string | undefined {
  const entered = event.stateEnteredEventDetails as { name?: string } | undefined;
  const exited = event.stateExitedEventDetails as { name?: string } | undefined;
  if (entered?.name) return entered.name;
  if (exited?.name) return exited.name;
  if (typeof event.stateName === 'string') return event.stateName;
  for (const [key, value] of Object.entries(event)) {
    if (key.startsWith('mapIteration') && value && typeof value === 'object' && 'name' in value) {
      return String((value as { name: unknown }).name);
    }
  }
  return undefined;
}

/** Each state's outcome in an execution, from its history (state names are those of the ASL, nested ones too). */
export function stateOutcomes(
  history: HistoryEvent[],
  status: ExecutionStatus,
  types: Map<string, string> = new Map(),
): Map<string, StateRun> {
  const counts = new Map<
    string,
    { entered: number; exited: number; failures: number; retries: number; lastFailure: number }
  >();
  const get = (name: string) => {
    let c = counts.get(name);
    if (!c) {
      c = { entered: 0, exited: 0, failures: 0, retries: 0, lastFailure: -1 };
      counts.set(name, c);
    }
    return c;
  };
  const entries: { index: number; name: string }[] = [];
  history.forEach((event, index) => {
    const name = eventStateName(event);
    if (!name) return;
    if (event.type.endsWith('StateEntered')) {
      get(name).entered++;
      entries.push({ index, name });
    } else if (event.type.endsWith('StateExited')) {
      get(name).exited++;
    } else if (event.type === 'LambdaFunctionFailed' || event.type === 'TaskFailed') {
      const c = get(name);
      c.failures++;
      c.lastFailure = index;
    } else if (event.type === 'LambdaFunctionScheduled' && event.retryAttempt !== undefined) {
      get(name).retries++;
    }
  });
  const out = new Map<string, StateRun>();
  for (const [name, c] of counts) {
    let outcome: Outcome;
    if (c.entered === 0) outcome = 'not-entered';
    else if (types.get(name) === 'Fail') outcome = 'failed';
    else if (c.failures > 0) {
      const movedOn = entries.some((e) => e.index > c.lastFailure && e.name !== name);
      if (c.exited >= c.entered) outcome = 'retried';
      else if (movedOn) outcome = 'caught';
      else outcome = status === 'RUNNING' ? 'in-progress' : 'failed';
    } else if (c.exited >= c.entered) outcome = 'succeeded';
    else outcome = status === 'RUNNING' ? 'in-progress' : 'failed';
    out.set(name, { outcome, entered: c.entered, failures: c.failures, retries: c.retries });
  }
  return out;
}

function children(state: AslState): AslMachine[] {
  return [state.Iterator, state.ItemProcessor, ...(state.Branches ?? [])].filter((m): m is AslMachine => !!m);
}

function stateTypes(machine: AslMachine, out = new Map<string, string>()): Map<string, string> {
  for (const [name, state] of Object.entries(machine.States ?? {})) {
    out.set(name, state.Type);
    for (const child of children(state)) stateTypes(child, out);
  }
  return out;
}

function transitions(state: AslState): { label: string; to: string }[] {
  const out: { label: string; to: string }[] = [];
  if (state.Next) out.push({ label: '', to: state.Next });
  for (const choice of state.Choices ?? []) if (choice.Next) out.push({ label: 'choice', to: choice.Next });
  if (state.Default) out.push({ label: 'default', to: state.Default });
  for (const c of state.Catch ?? []) {
    if (c.Next) out.push({ label: `catch ${(c.ErrorEquals ?? []).join(', ')}`.trim(), to: c.Next });
  }
  return out;
}

/** The states by rows: each state on the row of its shortest distance from StartAt; unreachable ones last. */
function layers(machine: AslMachine): string[][] {
  const depth = new Map<string, number>();
  const queue: string[] = [];
  if (machine.States?.[machine.StartAt]) {
    depth.set(machine.StartAt, 0);
    queue.push(machine.StartAt);
  }
  while (queue.length > 0) {
    const name = queue.shift() as string;
    const state = machine.States[name];
    if (!state) continue;
    for (const { to } of transitions(state)) {
      if (depth.has(to) || !machine.States[to]) continue;
      depth.set(to, (depth.get(name) ?? 0) + 1);
      queue.push(to);
    }
  }
  const rows: string[][] = [];
  for (const [name, d] of depth) {
    const row = rows[d] ?? [];
    row.push(name);
    rows[d] = row;
  }
  const unreachable = Object.keys(machine.States ?? {}).filter((name) => !depth.has(name));
  if (unreachable.length > 0) rows.push(unreachable);
  return rows.filter(Boolean);
}

function renderMachine(machine: AslMachine, runs: Map<string, StateRun>): string {
  const rows = layers(machine).map((row) => {
    const boxes = row.map((name) => {
      const state = machine.States[name] as AslState;
      const run = runs.get(name);
      const outcome: Outcome = run?.outcome ?? 'not-entered';
      const counts: string[] = [];
      if (run && run.entered > 1) counts.push(`entered ${run.entered}×`);
      if (run?.retries) counts.push(`retried ${run.retries}×`);
      if (run?.failures) counts.push(`failed ${run.failures}×`);
      const next = transitions(state)
        .map((t) => `<li>${t.label ? `${esc(t.label)} ` : ''}→ ${esc(t.to)}</li>`)
        .join('');
      const end = state.End || state.Type === 'Succeed' || state.Type === 'Fail' ? '<li>end</li>' : '';
      const inner = children(state)
        .map((child) => `<div class="inner">${renderMachine(child, runs)}</div>`)
        .join('');
      return `<div class="state outcome-${outcome}" data-state="${esc(name)}" data-outcome="${outcome}" title="${esc(
        OUTCOME_LABELS[outcome],
      )}"><div class="name">${esc(name)}</div><div class="type">${esc(state.Type)} · ${esc(OUTCOME_LABELS[outcome])}${
        counts.length > 0 ? ` (${esc(counts.join(', '))})` : ''
      }</div><ul>${next}${end}</ul>${inner}</div>`;
    });
    return `<div class="layer">${boxes.join('')}</div>`;
  });
  return `<div class="graph"><div class="terminal">Start</div><div class="arrow">↓</div>${rows.join(
    '<div class="arrow">↓</div>',
  )}</div>`;
}

/** The graph of a definition with each state's outcome in this execution; a note when it cannot be read. */
export function renderGraph(definition: string, history: HistoryEvent[], status: ExecutionStatus): string {
  let machine: AslMachine;
  try {
    machine = JSON.parse(definition) as AslMachine;
    if (!machine || typeof machine.States !== 'object') throw new Error('no States');
  } catch {
    return '<p class="muted">The state machine definition could not be read.</p>';
  }
  const runs = stateOutcomes(history, status, stateTypes(machine));
  const legend = (Object.keys(OUTCOME_LABELS) as Outcome[])
    .map((o) => `<span class="state outcome-${o}">${esc(OUTCOME_LABELS[o])}</span>`)
    .join('');
  return `<div class="legend">${legend}</div>${renderMachine(machine, runs)}`;
}
