/**
 * The REST API, built from `ROUTES`: one Lambda proxy method per route, a TOKEN authorizer on every
 * route that is not public, a 405 mock on every resource for the methods it does not allow, and
 * API Gateway's own error responses in the service's error shape (`lambdas/http/problem.ts`).
 */
import { Duration } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { errorBody } from '../../lambdas/http/problem';
import { allowedMethods, type ApiFunctionName, ROUTES } from '../../lambdas/config/routes';

/** Sent with 401 so clients know which schemes the authorizer accepts. */
export const WWW_AUTHENTICATE = 'Basic realm="image-queue", Bearer';

/** Content types given a 405 mapping template (a mock integration needs one to pick its status). */
const MOCK_CONTENT_TYPES = [
  'application/json',
  'application/ld+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'application/octet-stream',
];

export interface QueueApiProps {
  /** The function behind each `fn` of `ROUTES`. */
  readonly functions: Record<ApiFunctionName, lambda.IFunction>;
  /** The TOKEN authorizer function (reads the `Authorization` header). */
  readonly authorizer: lambda.IFunction;
  /** @default 'prod' */
  readonly stageName?: string;
  /**
   * Steady-state requests per second across the stage.
   * @default 100
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst of requests across the stage.
   * @default 200
   */
  readonly throttlingBurstLimit?: number;
  /**
   * How long API Gateway caches an authorizer decision per token.
   * @default Duration.seconds(60)
   */
  readonly authorizerCacheTtl?: Duration;
}

/** A JSON mapping template: `errorBody(...)` with `detail` taken from a VTL expression if given. */
function errorTemplate(statusCode: number, detail: string, detailExpression?: string): string {
  const placeholder = '__DETAIL__';
  const body = JSON.stringify(errorBody(statusCode, detailExpression ? placeholder : detail));
  return detailExpression ? body.replace(`"${placeholder}"`, detailExpression) : body;
}

/** Single-quoted static value for a header mapping. */
const literal = (value: string): string => `'${value.replace(/'/g, "\\'")}'`;

export class QueueApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly authorizer: apigateway.TokenAuthorizer;

  constructor(scope: Construct, id: string, props: QueueApiProps) {
    super(scope, id);

    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: 'image-queue',
      description: 'Image registration queue',
      // Account-level logging role is a singleton shared with other stacks; no execution logs here.
      cloudWatchRole: false,
      deployOptions: {
        stageName: props.stageName ?? 'prod',
        throttlingRateLimit: props.throttlingRateLimit ?? 100,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 200,
        metricsEnabled: true,
      },
    });

    this.authorizer = new apigateway.TokenAuthorizer(this, 'Authorizer', {
      handler: props.authorizer,
      identitySource: apigateway.IdentitySource.header('Authorization'),
      resultsCacheTtl: props.authorizerCacheTtl ?? Duration.seconds(60),
    });

    // One integration (and one api-scoped invoke permission) per function: scoping the permission
    // to each method would put ~2 statements per route in api-read's resource policy.
    const integrations = new Map<ApiFunctionName, apigateway.LambdaIntegration>();
    const integrationFor = (fn: ApiFunctionName): apigateway.LambdaIntegration => {
      let integration = integrations.get(fn);
      if (!integration) {
        integration = new apigateway.LambdaIntegration(props.functions[fn], { scopePermissionToMethod: false });
        integrations.set(fn, integration);
      }
      return integration;
    };

    for (const route of ROUTES) {
      const resource = this.api.root.resourceForPath(route.resource);
      resource.addMethod(
        route.method,
        integrationFor(route.fn),
        route.access === 'public'
          ? { authorizationType: apigateway.AuthorizationType.NONE }
          : { authorizer: this.authorizer, authorizationType: apigateway.AuthorizationType.CUSTOM },
      );
    }

    // A specific method wins over ANY, so ANY only answers the methods a resource does not allow.
    for (const [path, methods] of allowedMethods()) {
      this.addMethodNotAllowed(this.api.root.resourceForPath(path), methods);
    }

    this.addGatewayResponses();
  }

  private addMethodNotAllowed(resource: apigateway.IResource, allowed: readonly string[]): void {
    const allow = allowed.join(', ');
    const body = errorTemplate(405, `Allowed methods: ${allow}.`);
    resource.addMethod(
      'ANY',
      new apigateway.MockIntegration({
        requestTemplates: Object.fromEntries(MOCK_CONTENT_TYPES.map((type) => [type, '{"statusCode": 405}'])),
        passthroughBehavior: apigateway.PassthroughBehavior.WHEN_NO_MATCH,
        integrationResponses: [
          {
            statusCode: '405',
            responseParameters: {
              'method.response.header.Allow': literal(allow),
              'method.response.header.Content-Type': literal('application/json'),
            },
            responseTemplates: { 'application/json': body },
          },
        ],
      }),
      {
        authorizationType: apigateway.AuthorizationType.NONE,
        methodResponses: [
          {
            statusCode: '405',
            responseParameters: {
              'method.response.header.Allow': true,
              'method.response.header.Content-Type': true,
            },
          },
        ],
      },
    );
  }

  private addGatewayResponses(): void {
    const T = apigateway.ResponseType;
    const contentType = { 'Content-Type': literal('application/json') };
    const respond = (
      responseId: string,
      type: apigateway.ResponseType,
      statusCode: number,
      detail: string,
      options: { keepStatus?: boolean; detailExpression?: string; headers?: Record<string, string> } = {},
    ): void => {
      this.api.addGatewayResponse(responseId, {
        type,
        statusCode: options.keepStatus ? undefined : String(statusCode),
        responseHeaders: { ...contentType, ...options.headers },
        templates: { 'application/json': errorTemplate(statusCode, detail, options.detailExpression) },
      });
    };
    // API Gateway answers unknown paths (and unknown methods without a 405 mock) with
    // 403 "Missing Authentication Token"; it means "not found".
    respond('NotFound', T.MISSING_AUTHENTICATION_TOKEN, 404, 'No resource at this path.');
    respond('Unauthorized', T.UNAUTHORIZED, 401, 'Credentials are missing or not valid.', {
      headers: { 'WWW-Authenticate': literal(WWW_AUTHENTICATE) },
    });
    respond('AccessDenied', T.ACCESS_DENIED, 403, 'These credentials do not allow this request.');
    respond('Throttled', T.THROTTLED, 429, 'Too many requests; retry later.');
    respond('RequestTooLarge', T.REQUEST_TOO_LARGE, 413, 'The request body is too large.');
    respond('UnsupportedMediaType', T.UNSUPPORTED_MEDIA_TYPE, 415, 'Unsupported content type.');
    respond('IntegrationTimeout', T.INTEGRATION_TIMEOUT, 504, 'The request took too long.');
    respond('AuthorizerFailure', T.AUTHORIZER_FAILURE, 500, 'The authorizer failed.');
    respond('AuthorizerConfigurationError', T.AUTHORIZER_CONFIGURATION_ERROR, 500, 'The authorizer failed.');
    // The defaults keep the status API Gateway chose (e.g. 502 for a malformed Lambda response); a
    // template has no variable for it, so the body's statusCode is the family's generic one.
    respond('Default4xx', T.DEFAULT_4XX, 400, '', { keepStatus: true, detailExpression: '$context.error.messageString' });
    respond('Default5xx', T.DEFAULT_5XX, 500, '', { keepStatus: true, detailExpression: '$context.error.messageString' });
  }
}
