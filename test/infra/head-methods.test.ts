/**
 * HEAD on AWS: every GET route has a HEAD method next to it, integrated with the same function and
 * guarded by the same authorizer (the function drops the body), and each public route's throttle
 * (GET /queue, the OpenAPI document, the console) covers its HEAD too, so HEAD is no way around it.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ROUTES } from '../../lambdas/config/routes';
import { ImageQueueStack } from '../../lib/image-queue-stack';

type Json = any;

// ---- Prepare ------------------------------------------------------------------------------------

const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const template = Template.fromStack(new ImageQueueStack(app, 'ImageQueue'));
const resources = template.toJSON().Resources as Record<string, Json>;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const refOf = (v: Json): string | undefined => v?.Ref ?? v?.['Fn::GetAtt']?.[0];

const apiResources = new Map(ofType('AWS::ApiGateway::Resource'));
function pathOf(id: string | undefined): string {
  const r = id ? apiResources.get(id) : undefined;
  if (!r) return '';
  return `${pathOf(refOf(r.Properties.ParentId))}/${r.Properties.PathPart}`;
}
const methods = ofType('AWS::ApiGateway::Method').map(([, m]) => m.Properties as Json);
const methodAt = (verb: string, path: string) =>
  methods.filter((m) => m.HttpMethod === verb && (pathOf(refOf(m.ResourceId)) || '/') === path);

// ---- Assess -------------------------------------------------------------------------------------

describe('HEAD methods', () => {
  const gets = ROUTES.filter((r) => r.method === 'GET');

  it.each(gets.map((r) => [r.resource]))('%s answers HEAD through the GET function and authorizer', (resource) => {
    const [get] = methodAt('GET', resource);
    const heads = methodAt('HEAD', resource);
    expect(heads).toHaveLength(1);
    const head = heads[0];
    expect(head.Integration.Type).toBe('AWS_PROXY');
    expect(JSON.stringify(head.Integration.Uri)).toBe(JSON.stringify(get.Integration.Uri));
    expect(head.AuthorizationType).toBe(get.AuthorizationType);
    expect(head.AuthorizerId).toEqual(get.AuthorizerId);
    expect(head.ApiKeyRequired).toEqual(get.ApiKeyRequired);
  });

  it('adds HEAD to GET routes only', () => {
    const headPaths = methods.filter((m) => m.HttpMethod === 'HEAD').map((m) => pathOf(refOf(m.ResourceId)) || '/');
    expect(headPaths.sort()).toEqual(gets.map((r) => r.resource).sort());
  });

  const publicGets = gets.filter((r) => r.access === 'public');

  it.each(publicGets.map((r) => [r.resource]))('throttles HEAD %s like its GET, with the public limits, and no authorizer', (resource) => {
    const [, stage] = ofType('AWS::ApiGateway::Stage')[0]!;
    const settings = stage.Properties.MethodSettings as Json[];
    const of = (verb: string) => settings.find((s) => s.HttpMethod === verb && s.ResourcePath === `/${resource.replaceAll('/', '~1')}`);
    expect(of('GET')).toMatchObject({ ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 });
    expect({ ...of('HEAD'), HttpMethod: 'GET' }).toEqual(of('GET'));
    expect(methodAt('GET', resource)[0].AuthorizationType).toBe('NONE');
  });

  it('covers the console among the public routes', () => {
    expect(publicGets.map((r) => r.resource)).toEqual(expect.arrayContaining(['/console', '/console/assets/{asset}']));
  });
});
