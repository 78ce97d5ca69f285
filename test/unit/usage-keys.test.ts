/**
 * Registering customer keys in the stack's usage plan (AWS): an API key whose value the authorizer
 * will name, added to the plan found by its name; nothing left behind when that fails.
 */
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  GetUsagePlansCommand,
  NotFoundException,
} from '@aws-sdk/client-api-gateway';
import { mockClient } from 'aws-sdk-client-mock';
import { apiGatewayUsageKeys } from '../../lambdas/adapters/usage-keys';

const apigw = mockClient(APIGatewayClient);

beforeEach(() => {
  apigw.reset();
  process.env.AWS_REGION = 'eu-west-1';
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  apigw
    .on(GetUsagePlansCommand)
    .resolvesOnce({ items: [{ id: 'other', name: 'Other-customer-keys' }], position: 'p2' })
    .resolves({ items: [{ id: 'plan-1', name: 'ImageQueue-customer-keys' }] });
  apigw.on(CreateApiKeyCommand).resolves({ id: 'apikey-1' });
});

it('creates an API key valued for the authorizer and adds it to the named plan', async () => {
  apigw.on(CreateUsagePlanKeyCommand).resolves({});
  const id = await apiGatewayUsageKeys('ImageQueue-customer-keys').register('kABC');
  expect(id).toBe('apikey-1');
  expect(apigw.commandCalls(CreateApiKeyCommand)[0]?.args[0].input).toMatchObject({ value: 'image-queue-usage-kABC', enabled: true });
  expect(apigw.commandCalls(CreateUsagePlanKeyCommand)[0]?.args[0].input).toEqual({
    usagePlanId: 'plan-1',
    keyId: 'apikey-1',
    keyType: 'API_KEY',
  });
});

it('deletes the API key again when it cannot join the plan', async () => {
  apigw.on(CreateUsagePlanKeyCommand).rejects(new Error('TooManyRequests'));
  apigw.on(DeleteApiKeyCommand).resolves({});
  await expect(apiGatewayUsageKeys('ImageQueue-customer-keys').register('kABC')).rejects.toThrow('TooManyRequests');
  expect(apigw.commandCalls(DeleteApiKeyCommand)[0]?.args[0].input).toEqual({ apiKey: 'apikey-1' });
});

it('treats an API key already gone as deregistered', async () => {
  apigw.on(DeleteApiKeyCommand).rejects(new NotFoundException({ message: 'gone', $metadata: {} }));
  await expect(apiGatewayUsageKeys('ImageQueue-customer-keys').deregister('apikey-1')).resolves.toBeUndefined();
});
