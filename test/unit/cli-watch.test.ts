/** The CLI's watching: long-polls with `?wait`, and falls back to plain polling where the server refuses it. */
import { type ApiClient, ApiError } from '../../cli/src/api-client';
import type { Batch } from '../../cli/src/batch';
import type { ProgressReporter } from '../../cli/src/progress';
import { watchBatches } from '../../cli/src/watch';
import { CONTEXT_URL } from '../../lambdas/http/problem';

const URL_1 = 'http://api.test/customers/1/queue/batches/1';

const batch = (done: number, finished?: string): Batch => ({
  '@context': CONTEXT_URL,
  '@id': URL_1,
  '@type': 'vocab:Batch',
  id: 1,
  submitted: '2026-01-01T00:00:00.000Z',
  count: 2,
  completed: done,
  errors: 0,
  ...(finished ? { finished } : {}),
  images: `${URL_1}/images`,
  completedImages: `${URL_1}/completedImages`,
  errorImages: `${URL_1}/errorImages`,
  superseded: false,
  test: `${URL_1}/test`,
});

/** A client answering GETs from a script of states; `?wait` answers 400 unless `longPoll`. */
function fakeClient(states: Batch[], longPoll: boolean) {
  const requested: string[] = [];
  const client = {
    get: async (url: string) => {
      requested.push(url);
      if (url.includes('?wait=') && !longPoll) throw new ApiError(400, 'wait is not a parameter of this route');
      return { status: 200, headers: new Headers(), body: states.shift() ?? batch(2, 'now') };
    },
  };
  return { client: client as unknown as ApiClient, requested };
}

function recordingReporter() {
  const seen: number[] = [];
  const reporter: ProgressReporter = { update: (batches) => seen.push(batches[0]?.completed ?? -1), stop: () => undefined };
  return { reporter, seen };
}

test('long-polls with ?wait until the batch finishes', async () => {
  // Prepare
  const { client, requested } = fakeClient([batch(0), batch(1), batch(2, 'now')], true);
  const { reporter, seen } = recordingReporter();

  // Act
  const [final] = await watchBatches(client, [URL_1], { reporter, minRoundMs: 0 });

  // Assess
  expect(final?.finished).toBe('now');
  expect(requested).toEqual([URL_1, `${URL_1}?wait=3`, `${URL_1}?wait=3`]);
  expect(seen).toEqual([0, 1, 2]);
});

test('a server that answers 400 to ?wait is polled plainly from then on', async () => {
  const { client, requested } = fakeClient([batch(0), batch(1), batch(2, 'now')], false);
  const { reporter } = recordingReporter();

  const [final] = await watchBatches(client, [URL_1], { reporter, minRoundMs: 0 });

  expect(final?.completed).toBe(2);
  expect(requested).toEqual([URL_1, `${URL_1}?wait=3`, URL_1, URL_1]);
});
