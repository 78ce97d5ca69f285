/** The CLI's messages and chart: one-line API errors, load bucketing and the times `load` takes. */
import { describeFailure } from '../../cli/src/api-client';
import { bucketLoad, instantOf, renderLoadChart } from '../../cli/src/load-chart';

describe('describeFailure', () => {
  test("says the status, the server's detail and the first member problems on one line", () => {
    const body = {
      '@type': 'Error',
      title: 'Unprocessable Entity',
      detail: '5 members are invalid.',
      errors: [0, 1, 2, 3, 4].map((member) => ({ member, field: 'origin', message: 'must be an http(s) URL' })),
    };

    const message = describeFailure(422, '', body, new Headers(), 'POST /customers/1/queue');

    expect(message).toBe(
      'POST /customers/1/queue: 422 Unprocessable Entity — 5 members are invalid. — member 0 origin: must be an http(s) URL; ' +
        'member 1 origin: must be an http(s) URL; member 2 origin: must be an http(s) URL (+2 more)',
    );
    expect(message).not.toContain('\n');
  });

  test('mentions Retry-After on 429 and 503, and the credential on 401', () => {
    expect(
      describeFailure(429, 'Too Many Requests', { detail: 'Quota exceeded.' }, new Headers({ 'retry-after': '3600' }), 'GET x'),
    ).toMatch(/Quota exceeded\. — retry after 3600 s \(Retry-After\)$/);
    expect(describeFailure(401, 'Unauthorized', undefined, new Headers(), 'GET x')).toMatch(/--key KEY:SECRET/);
  });
});

describe('load chart', () => {
  const hour = Date.parse('2026-01-01T10:00:00Z');
  const point = (minute: number, queued: number) => ({
    time: new Date(hour + minute * 60_000).toISOString(),
    pending_count: 0,
    queued_count: queued,
    running_count: 1,
  });

  test('each column holds the largest sample in it; columns without one are zero', () => {
    const [pending, queued, running] = bucketLoad([point(0, 5), point(1, 9), point(50, 2)], hour, hour + 60 * 60_000, 6);

    expect(pending).toEqual([0, 0, 0, 0, 0, 0]);
    expect(queued).toEqual([9, 0, 0, 0, 0, 2]);
    expect(running).toEqual([1, 0, 0, 0, 0, 1]);
  });

  test('without colours each series is a chart of its own', () => {
    const text = renderLoadChart([point(0, 5)], hour, hour + 60 * 60_000, 40, false);

    expect(text).toMatch(/^pending:/m);
    expect(text).toMatch(/^queued:/m);
    expect(text).toMatch(/^running:/m);
    expect(text).not.toContain('\u001b[');
  });

  test('times are ISO date-times or durations before now', () => {
    const now = Date.parse('2026-01-08T00:00:00Z');

    expect(instantOf('PT3H', now)).toBe(now - 3 * 3_600_000);
    expect(instantOf('P1DT30M', now)).toBe(now - 86_400_000 - 1_800_000);
    expect(instantOf('2026-01-01T00:00:00Z', now)).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(instantOf('yesterday', now)).toBeUndefined();
  });
});
