/**
 * Crashes for the fault suites, injected around the adapters rather than inside the shipped code:
 * `injectStoreFaults` and `injectQueueFaults` wrap the queue store and the work queue so that, while
 * a point is armed, the call at that point dies as a crashed Lambda would — before or after its
 * write, or after writing half of it. A suite installs them with `jest.mock` of `lambdas/adapters`
 * (the local runtime runs the handlers in the test's process, so they get the wrapped adapters).
 */
import type { QueueStore, WorkQueue } from '../../lambdas/domain/ports';

export type FaultPoint =
  /** The batch item is written, nothing else. */
  | 'submit:after-batch'
  /** Half of the members are written. */
  | 'submit:mid-members'
  /** Every member is written and half of their messages are sent. */
  | 'submit:mid-send'
  /** A delivery is ingested; its transaction is not written. */
  | 'process:before-transaction'
  /** A delivery's transaction is written; its batch is not finalized. */
  | 'process:after-transaction'
  /** A batch is finalized; the delivery is not acknowledged. */
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
  /** Throws while `point` is armed. */
  hit(point: FaultPoint): void {
    const remaining = armed.get(point) ?? 0;
    if (remaining <= 0) return;
    armed.set(point, remaining - 1);
    hits.set(point, (hits.get(point) ?? 0) + 1);
    throw new InjectedFault(point);
  },
  /** How many times `point` has fired since the last reset. */
  fired(point: FaultPoint): number {
    return hits.get(point) ?? 0;
  },
  reset(): void {
    armed.clear();
    hits.clear();
  },
};

const half = <T>(items: readonly T[]): T[] => items.slice(0, Math.ceil(items.length / 2));

/** The store with the submit and processing fault points around its writes. */
export function injectStoreFaults<S extends QueueStore>(store: S): S {
  const faulty = Object.create(store) as S;
  faulty.createBatch = async (...args) => {
    const result = await store.createBatch(...args);
    if ('created' in result) faults.hit('submit:after-batch');
    return result;
  };
  faulty.putMembers = async (members) => {
    if (faults.isArmed('submit:mid-members')) {
      await store.putMembers(half(members));
      faults.hit('submit:mid-members');
    }
    return store.putMembers(members);
  };
  faulty.applyTransitions = async (transitions, batches) => {
    // Only a delivery's own transaction passes the batches it starts (the running marks and the
    // dead-letter recorder do not), so those are the ones that crash.
    if (batches === undefined) return store.applyTransitions(transitions);
    faults.hit('process:before-transaction');
    const result = await store.applyTransitions(transitions, batches);
    faults.hit('process:after-transaction');
    return result;
  };
  faulty.finalizeBatch = async (...args) => {
    const finished = await store.finalizeBatch(...args);
    faults.hit('process:after-finalize');
    return finished;
  };
  return faulty;
}

/** The work queue with the `submit:mid-send` point: half of the members' messages are sent. */
export function injectQueueFaults<Q extends WorkQueue>(work: Q): Q {
  const faulty = Object.create(work) as Q;
  faulty.sendMembers = async (queue, messages) => {
    if (faults.isArmed('submit:mid-send')) {
      await work.sendMembers(queue, half(messages));
      faults.hit('submit:mid-send');
    }
    return work.sendMembers(queue, messages);
  };
  return faulty;
}
