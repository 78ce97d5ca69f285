/**
 * The REST API, built from `ROUTES`: one Lambda proxy method per route, a TOKEN authorizer on every
 * route that is not public, a 405 mock on every resource for the methods it does not allow, and
 * API Gateway's own error responses in the service's error shape (`lambdas/http/problem.ts`).
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { USAGE_LIMITS, type UsageLimits } from '../../lambdas/config/resources';
import { type ApiFunctionName, allowedMethods, ROUTES, withHead } from '../../lambdas/config/routes';
import { errorBody, WWW_AUTHENTICATE } from '../../lambdas/http/problem';

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
   * @default USAGE_LIMITS.stage.rateLimit
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst of requests across the stage.
   * @default USAGE_LIMITS.stage.burstLimit
   */
  readonly throttlingBurstLimit?: number;
  /**
   * How long API Gateway caches an authorizer decision per token. Anything above zero delays
   * revocation by as much; the authorizer itself reads the key on every call.
   * @default Duration.seconds(0) (no cache)
   */
  readonly authorizerCacheTtl?: Duration;
  /** @default USAGE_LIMITS.customer */
  readonly customerKeyLimits?: UsageLimits;
  /** @default USAGE_LIMITS.admin */
  readonly adminKeyLimits?: UsageLimits;
  /** @default [] (no CORS) */
  readonly corsAllowedOrigins?: string[];
}

/** A JSON mapping template: `errorBody(...)` with `detail` taken from a VTL expression if given. */
function errorTemplate(statusCode: number, detail: string, detailExpression?: string): string {
  const placeholder = '__DETAIL__';
  const body = JSON.stringify(errorBody(statusCode, detailExpression ? placeholder : detail));
  return detailExpression ? body.replace(`"${placeholder}"`, detailExpression) : body;
}

/** Single-quoted static value for a header mapping. */
const literal = (value: string): string => `'${value.replace(/'/g, "\\'")}'`;

/** A usage plan's throttle and quota in CDK's terms. */
function planLimits(limits: UsageLimits): Pick<apigateway.UsagePlanProps, 'throttle' | 'quota'> {
  const period = { DAY: apigateway.Period.DAY, WEEK: apigateway.Period.WEEK, MONTH: apigateway.Period.MONTH };
  return {
    throttle: { rateLimit: limits.rateLimit, burstLimit: limits.burstLimit },
    ...(limits.quota ? { quota: { limit: limits.quota.limit, period: period[limits.quota.period] } } : {}),
  };
}

export class QueueApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly authorizer: apigateway.TokenAuthorizer;
  /** The plan every customer key joins (per-key throttle and quota). */
  readonly customerPlan: apigateway.UsagePlan;
  readonly customerPlanName: string;
  readonly adminPlan: apigateway.UsagePlan;
  /** The admin keys' usage identifier, which the authorizer returns for them. */
  readonly adminUsageKeyValue: string;

  constructor(scope: Construct, id: string, props: QueueApiProps) {
    super(scope, id);
    const stackName = Stack.of(this).stackName;
    const stage = props.stageName ?? 'prod';
    const origins = props.corsAllowedOrigins ?? [];

    this.api = new apigateway.RestApi(this, 'Api', {
      // Named after the stack, so a second stack (`-c stage=dev`) lives beside the first.
      restApiName: stackName,
      description: `Image registration queue (${stackName})`,
      // Account-level logging role is a singleton shared with other stacks; no execution logs here.
      cloudWatchRole: false,
      // Usage plans meter the API key the authorizer names, never a client-sent x-api-key.
      apiKeySourceType: apigateway.ApiKeySourceType.AUTHORIZER,
      deployOptions: {
        stageName: stage,
        throttlingRateLimit: props.throttlingRateLimit ?? USAGE_LIMITS.stage.rateLimit,
        throttlingBurstLimit: props.throttlingBurstLimit ?? USAGE_LIMITS.stage.burstLimit,
        metricsEnabled: true,
        // Each public route (no key, so no usage plan) gets a throttle of its own, so it cannot starve the rest.
        methodOptions: publicMethodThrottles(),
      },
      ...(origins.length > 0
        ? {
            defaultCorsPreflightOptions: {
              allowOrigins: origins,
              allowMethods: ['GET', 'POST', 'DELETE'],
              allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'],
              maxAge: Duration.hours(1),
            },
          }
        : {}),
    });

    this.authorizer = new apigateway.TokenAuthorizer(this, 'Authorizer', {
      handler: props.authorizer,
      identitySource: apigateway.IdentitySource.header('Authorization'),
      // No cache: a revoked key (or a key whose privileges changed) counts from the next request.
      resultsCacheTtl: props.authorizerCacheTtl ?? Duration.seconds(0),
    });

    const apiStages = [{ api: this.api, stage: this.api.deploymentStage }];
    this.customerPlanName = `${stackName}-customer-keys`;
    this.customerPlan = this.api.addUsagePlan('CustomerKeys', {
      name: this.customerPlanName,
      description: 'Every customer API key: its own throttle bucket and quota',
      apiStages,
      ...planLimits(props.customerKeyLimits ?? USAGE_LIMITS.customer),
    });
    this.adminPlan = this.api.addUsagePlan('AdminKeys', {
      name: `${stackName}-admin-keys`,
      description: 'Admin keys (one API key shared by them)',
      apiStages,
      ...planLimits(props.adminKeyLimits ?? USAGE_LIMITS.admin),
    });
    // Not a secret: with the key source AUTHORIZER a client cannot present it; at least 20 characters.
    this.adminUsageKeyValue = `image-queue-admin-usage-${stackName}`;
    const adminKey = this.api.addApiKey('AdminUsageKey', {
      apiKeyName: `${stackName}-admin`,
      value: this.adminUsageKeyValue,
      description: 'Meters admin keys (named by the authorizer)',
    });
    this.adminPlan.addApiKey(adminKey);

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
      // Every GET also answers HEAD, served by the same function (lambdas/http/api.ts drops the body).
      for (const method of withHead([route.method])) {
        resource.addMethod(
          method,
          integrationFor(route.fn),
          route.access === 'public'
            ? { authorizationType: apigateway.AuthorizationType.NONE }
            : {
                authorizer: this.authorizer,
                authorizationType: apigateway.AuthorizationType.CUSTOM,
                // The authorizer supplies the key (usageIdentifierKey): usage plans apply per key.
                apiKeyRequired: true,
              },
        );
      }
    }

    // A specific method wins over ANY, so ANY only answers the methods a resource does not allow.
    for (const [path, methods] of allowedMethods()) {
      this.addMethodNotAllowed(this.api.root.resourceForPath(path), withHead(methods));
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
    // The authorizer says why this request is refused (a missing privilege, another customer).
    respond('AccessDenied', T.ACCESS_DENIED, 403, '', { detailExpression: '"$context.authorizer.denied"' });
    respond('InvalidApiKey', T.INVALID_API_KEY, 403, 'This key is not registered for usage metering; issue a new key.');
    respond('Throttled', T.THROTTLED, 429, 'Too many requests; retry later.', { headers: { 'Retry-After': literal('1') } });
    respond('QuotaExceeded', T.QUOTA_EXCEEDED, 429, "This key's request quota for the period is spent.", {
      headers: { 'Retry-After': literal('3600') },
    });
    // Bodies too large to deliver. Up to MAX_BODY_BYTES the handlers take a body; above it, while
    // the body still fits Lambda's 6 MB event JSON-escaped, the submit handler answers 413 before
    // parsing. Larger bodies never reach a function. Past 10 MB API Gateway (or the CloudFront
    // distribution of an edge-optimised API) refuses them with a 413 (REQUEST_TOO_LARGE; REST
    // APIs do not support customising it, so its body may stay AWS's own). Between the event limit
    // and 10 MB Lambda refuses the invocation, which the Lambda developer guide documents as a 500
    // "Internal server error" (one field report saw a 413 "Request Too Long" instead). That 500
    // has no response type of its own: the types it may come under (DEFAULT_5XX,
    // API_CONFIGURATION_ERROR, INTEGRATION_FAILURE) also carry genuine failures (a throttled or
    // missing function, a permission), so none is turned into a 413 here: a server error must
    // never read as the client's fault. An exact 413 there needs a Content-Length filter in front
    // of the stage (AWS WAF), not a gateway response.
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

/** The public limits on every method of the public routes (`/queue`, `/openapi.json`, the console), HEADs included. */
function publicMethodThrottles(): Record<string, apigateway.MethodDeploymentOptions> {
  const throttle = { throttlingRateLimit: USAGE_LIMITS.publicQueue.rateLimit, throttlingBurstLimit: USAGE_LIMITS.publicQueue.burstLimit };
  return Object.fromEntries(
    ROUTES.filter((route) => route.access === 'public').flatMap((route) =>
      withHead([route.method]).map((m) => [`${route.resource}/${m}`, throttle]),
    ),
  );
}
