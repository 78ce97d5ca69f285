/** Small factories for domain records in unit tests: a waiting member and a fresh batch of 4. */
import type { BatchRecord, MemberRecord } from '../../lambdas/domain/model';

export const aMember = (overrides: Partial<MemberRecord> = {}): MemberRecord => ({
  customer: 1,
  batch: 7,
  index: 0,
  queue: 'main',
  state: 'waiting',
  submitted: '2026-01-01T00:00:00.000Z',
  id: 'a',
  space: 1,
  origin: 'https://example.org/a.png',
  ...overrides,
});

export const aBatch = (overrides: Partial<BatchRecord> = {}): BatchRecord => ({
  customer: 1,
  batch: 7,
  queue: 'main',
  submitted: '2026-01-01T00:00:00.000Z',
  count: 4,
  completed: 0,
  errors: 0,
  cancelled: 0,
  remaining: 4,
  waiting: 4,
  current: 4,
  ...overrides,
});
