/**
 * Size limits in the template: the body limit handed to the functions leaves every body under it
 * deliverable inside Lambda's 6 MB event (JSON-escaped), API Gateway's own "too large" answer is a
 * 413 in the service's error shape, and no server-error response is dressed up as a 413.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DEFAULTS, ENV } from '../../lambdas/config/resources';
import { ImageQueueStack } from '../../lib/image-queue-stack';

type Json = Record<string, any>;

/** Lambda's limit on a synchronous invocation's request payload (the proxy event as JSON). */
const LAMBDA_REQUEST_LIMIT_BYTES = 6 * 1024 * 1024;
/** The event around the body: headers twice (API Gateway takes at most 10 KB of them), the request context. */
const EVENT_ENVELOPE_BYTES = 128 * 1024;

const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const template = Template.fromStack(new ImageQueueStack(app, 'ImageQueue'));
const resources = Object.values(template.toJSON().Resources as Record<string, Json>);
const gatewayResponses = resources.filter((r) => r.Type === 'AWS::ApiGateway::GatewayResponse').map((r) => r.Properties as Json);

describe('the request body limit', () => {
  const limits = resources
    .filter((r) => r.Type === 'AWS::Lambda::Function')
    .map((r) => r.Properties?.Environment?.Variables?.[ENV.maxBodyBytes] as string | undefined)
    .filter((v): v is string => v !== undefined);

  it('is handed to the functions, as the default', () => {
    expect(limits.length).toBeGreaterThan(0);
    expect(new Set(limits)).toEqual(new Set([String(DEFAULTS.maxBodyBytes)]));
  });

  it('leaves every body under it deliverable: JSON escaped into the event at most doubles it', () => {
    for (const limit of limits) expect(2 * Number(limit) + EVENT_ENVELOPE_BYTES).toBeLessThanOrEqual(LAMBDA_REQUEST_LIMIT_BYTES);
  });
});

describe('API Gateway answers for bodies it will not deliver', () => {
  it('REQUEST_TOO_LARGE is a 413 with the service error body', () => {
    const found = gatewayResponses.filter((p) => p.ResponseType === 'REQUEST_TOO_LARGE');
    expect(found).toHaveLength(1);
    const props = found[0] as Json;
    expect(props.StatusCode).toBe('413');
    expect(props.ResponseParameters['gatewayresponse.header.Content-Type']).toBe("'application/json'");
    expect(JSON.parse(props.ResponseTemplates['application/json'])).toMatchObject({
      '@type': 'Error',
      statusCode: 413,
      title: 'Payload Too Large',
    });
  });

  it('turns no other response into a 413, and keeps server errors 5xx', () => {
    // A refused invocation comes back as a 500 of a type shared with genuine failures: mapping
    // any of them to 413 would blame the client for a server error.
    const others = gatewayResponses.filter((p) => p.ResponseType !== 'REQUEST_TOO_LARGE');
    expect(others.filter((p) => p.StatusCode === '413')).toEqual([]);
    const serverSide = [
      'DEFAULT_5XX',
      'API_CONFIGURATION_ERROR',
      'INTEGRATION_FAILURE',
      'INTEGRATION_TIMEOUT',
      'AUTHORIZER_FAILURE',
      'AUTHORIZER_CONFIGURATION_ERROR',
    ];
    for (const props of others.filter((p) => serverSide.includes(p.ResponseType))) {
      // Absent: the status API Gateway chose (a 5xx for these types).
      if (props.StatusCode !== undefined) expect(props.StatusCode).toMatch(/^5\d\d$/);
    }
    expect(others.some((p) => p.ResponseType === 'DEFAULT_5XX')).toBe(true);
  });
});
