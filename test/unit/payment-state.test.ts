import {
  allowedSources,
  assertTransition,
  canTransition,
  InvalidTransitionError,
  isTerminal,
  ORDER_STATUSES,
  type OrderStatus,
} from '../../src/payin/payment';

/**
 * The intended table, written out independently of the module. PENDING is also a hold before the charge (risk
 * review): NOT_STARTED -> PENDING, and PENDING -> EXECUTING when the operator approves.
 */
const INTENDED: Record<OrderStatus, OrderStatus[]> = {
  NOT_STARTED: ['EXECUTING', 'PENDING', 'FAILED'],
  EXECUTING: ['PENDING', 'UNKNOWN', 'SUCCESS', 'FAILED'],
  PENDING: ['EXECUTING', 'UNKNOWN', 'SUCCESS', 'FAILED'],
  UNKNOWN: ['SUCCESS', 'FAILED'],
  SUCCESS: [],
  FAILED: [],
};

const ALL_PAIRS = ORDER_STATUSES.flatMap((from) =>
  ORDER_STATUSES.map((to) => [from, to, INTENDED[from].includes(to)] as const),
);

describe('Module: payment', () => {
  it('knows exactly the six statuses', () => {
    expect([...ORDER_STATUSES]).toEqual(['NOT_STARTED', 'EXECUTING', 'PENDING', 'UNKNOWN', 'SUCCESS', 'FAILED']);
    expect(ALL_PAIRS).toHaveLength(36);
  });

  describe('Function: canTransition', () => {
    it.each(ALL_PAIRS)('%s -> %s allowed: %p', (from, to, allowed) => {
      expect(canTransition(from, to)).toBe(allowed);
    });

    it('never allows a status to move to itself', () => {
      for (const status of ORDER_STATUSES) expect(canTransition(status, status)).toBe(false);
    });

    it('never resolves UNKNOWN back to a non-final state', () => {
      expect(canTransition('UNKNOWN', 'EXECUTING')).toBe(false);
      expect(canTransition('UNKNOWN', 'PENDING')).toBe(false);
      expect(canTransition('UNKNOWN', 'NOT_STARTED')).toBe(false);
    });
  });

  describe('Function: assertTransition', () => {
    it.each(ALL_PAIRS.filter(([, , allowed]) => allowed))('allows %s -> %s', (from, to) => {
      expect(() => assertTransition(from, to)).not.toThrow();
    });

    it.each(ALL_PAIRS.filter(([, , allowed]) => !allowed))('throws InvalidTransitionError for %s -> %s', (from, to) => {
      expect(() => assertTransition(from, to)).toThrow(InvalidTransitionError);
      expect(() => assertTransition(from, to)).toThrow(`payment order cannot move from ${from} to ${to}`);
    });

    it('throws an error named InvalidTransitionError (Step Functions matches on the name)', () => {
      // Act
      let thrown: unknown;
      try {
        assertTransition('SUCCESS', 'FAILED');
      } catch (error) {
        thrown = error;
      }

      // Assess
      expect(thrown).toBeInstanceOf(InvalidTransitionError);
      expect((thrown as Error).name).toBe('InvalidTransitionError');
    });
  });

  describe('Function: allowedSources', () => {
    it.each([
      ['NOT_STARTED', []],
      ['EXECUTING', ['NOT_STARTED', 'PENDING']],
      ['PENDING', ['NOT_STARTED', 'EXECUTING']],
      ['UNKNOWN', ['EXECUTING', 'PENDING']],
      ['SUCCESS', ['EXECUTING', 'PENDING', 'UNKNOWN']],
      ['FAILED', ['NOT_STARTED', 'EXECUTING', 'PENDING', 'UNKNOWN']],
    ] as [OrderStatus, OrderStatus[]][])('the sources of %s are %p', (to, sources) => {
      expect(allowedSources(to)).toEqual(sources);
    });
  });

  describe('Function: isTerminal', () => {
    it.each([
      ['NOT_STARTED', false],
      ['EXECUTING', false],
      ['PENDING', false],
      ['UNKNOWN', false],
      ['SUCCESS', true],
      ['FAILED', true],
    ] as [OrderStatus, boolean][])('%s terminal: %p', (status, terminal) => {
      expect(isTerminal(status)).toBe(terminal);
    });
  });
});
