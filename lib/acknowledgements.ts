/**
 * The cdk-nag (AwsSolutions) findings this stack accepts, each with its reason. Everything else
 * the rule pack reports fails the infrastructure tests (test/infra/security.test.ts).
 */
import { type Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type { IConstruct } from 'constructs';

const acknowledge = (scope: IConstruct, id: string, reason: string): void =>
  Validations.of(scope).acknowledge({ id: `AwsSolutions::AwsSolutions-${id}`, reason });

export interface AcknowledgedParts {
  readonly stack: Stack;
  readonly api: apigateway.RestApi;
  /** The function that registers customer keys in the usage plan. */
  readonly keyFunctionPolicy: IConstruct;
  readonly adminSecret: IConstruct;
}

/** Why each public route (and its HEAD) needs no authorizer. Each has a method throttle of its own. */
const PUBLIC_ROUTE_REASONS: Record<string, string> = {
  '/queue':
    'GET /queue (and its HEAD) is public by the DLCS contract (the queue size summary); ' +
    'it has a method throttle of its own and its figures are cached in the function.',
  '/openapi.json':
    'GET /openapi.json (and its HEAD) is the public description of the API (OpenAPI 3.1), a static document served with no data; ' +
    'it has a method throttle of its own.',
  '/console':
    'GET /console (and its HEAD) is the browser console page: ' +
    'static HTML holding no data or credentials (it asks for a key and calls the keyed routes with it); ' +
    'it has a method throttle of its own.',
  '/console/assets/{asset}':
    "GET /console/assets/{asset} (and its HEAD) serves the console's static scripts and styles, which hold no data; " +
    'it has a method throttle of its own.',
};

export function acknowledgeFindings(parts: AcknowledgedParts): void {
  const { stack, api } = parts;
  acknowledge(
    stack,
    'COG4',
    'Callers are digital-library systems holding API keys (DLCS-style key:secret over Basic), ' +
      'checked by a Lambda TOKEN authorizer with per-key privileges and usage plans; ' +
      'Cognito user pools do not fit machine clients of this API.',
  );
  acknowledge(
    stack,
    'L1',
    'Functions run nodejs22.x, the runtime the project is built and tested for ' +
      '(the bundled AWS SDK v3 and middy 6 are verified on it); moving to a newer runtime is a tested upgrade, not a setting.',
  );
  // Methods without an authorizer: the public routes, and the 405 answers (mocks, no backend).
  for (const child of api.node.findAll()) {
    if (!(child instanceof apigateway.Method)) continue;
    const reason =
      child.httpMethod === 'ANY'
        ? 'A mock integration that answers 405 Method Not Allowed for methods a resource does not support; ' +
          'it reaches no backend and returns nothing but the error.'
        : child.httpMethod === 'GET' || child.httpMethod === 'HEAD'
          ? PUBLIC_ROUTE_REASONS[child.resource.path]
          : undefined;
    if (reason) acknowledge(child, 'APIG4', reason);
  }
  acknowledge(
    api,
    'APIG1',
    'Access logging needs the account-wide API Gateway CloudWatch role, ' +
      'a singleton this stack must not own (it would break other stacks in the account); ' +
      'every request is logged by the functions instead.',
  );
  acknowledge(api, 'APIG6', 'As for APIG1: execution logging also needs the account-wide CloudWatch role.');
  acknowledge(
    api,
    'APIG2',
    'Bodies are validated by the handlers with zod, which answer every problem in the service’s error shape ' +
      '(member index, field, message) and never write on a bad input; API Gateway’s validator would answer in another shape.',
  );
  acknowledge(
    api,
    'APIG3',
    'WAF is left to the account owner (it costs a web ACL per API); ' +
      'per-key usage plans, the stage throttle and the public route’s own throttle bound what one caller can do.',
  );
  acknowledge(
    parts.keyFunctionPolicy,
    'IAM5[Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/usageplans/*/keys]',
    'The usage plan id cannot be referenced here (function → plan → stage → deployment → method → function is a cycle); ' +
      'the function finds the plan by its stack-derived name.',
  );
  acknowledge(
    parts.keyFunctionPolicy,
    'IAM5[Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/apikeys/*]',
    'API keys are created at run time, one per customer key, so their ids are unknown to the template; ' +
      'the function deletes only the key it stored with a revoked credential.',
  );
  acknowledge(
    parts.adminSecret,
    'SMG4',
    'The admin credential is rotated by an operator (update the secret, then the authorizer picks it up as its containers recycle); ' +
      'automatic rotation would need a rotation function and a second credential the clients do not have.',
  );
}
