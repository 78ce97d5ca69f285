/**
 * Fault injection for the crash tests: named points in the submit and processing paths where a
 * test can make the code die as a crashed Lambda would. Nothing is armed unless a test arms it
 * in-process (the local runtime runs handlers in the test's process), so production never fails here.
 */
export type FaultPoint =
  | 'submit:after-batch'
  | 'submit:mid-members'
  | 'submit:mid-send'
  | 'process:before-transaction'
  | 'process:after-transaction'
  | 'process:after-finalize';

export class InjectedFault extends Error {
  constructor(readonly point: FaultPoint) {
    super(`injected fault at ${point}`);
    this.name = 'InjectedFault';
  }
}

const armed = new Map<FaultPoint, number>();
const hits = new Map<FaultPoint, number>();

export const faults = {
  /** Makes the next `times` passes through `point` throw. */
  arm(point: FaultPoint, times = 1): void {
    armed.set(point, times);
  },
  isArmed(point: FaultPoint): boolean {
    return (armed.get(point) ?? 0) > 0;
  },
  /** Called by the code at each point: throws while armed. */
  hit(point: FaultPoint): void {
    const remaining = armed.get(point) ?? 0;
    if (remaining <= 0) return;
    armed.set(point, remaining - 1);
    hits.set(point, (hits.get(point) ?? 0) + 1);
    throw new InjectedFault(point);
  },
  /** How many times each point has fired since the last reset. */
  fired(point: FaultPoint): number {
    return hits.get(point) ?? 0;
  },
  reset(): void {
    armed.clear();
    hits.clear();
  },
};
