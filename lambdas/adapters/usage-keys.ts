/**
 * Per-key request limits on AWS: each customer key gets an API Gateway API key (value
 * `usageKeyValue(key)`, which the authorizer names as its usage identifier) in the stack's usage
 * plan, found by its name. Locally there is no plan (the local gateway meters every identifier).
 */
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  NotFoundException,
  paginateGetUsagePlans,
} from '@aws-sdk/client-api-gateway';
import { settings } from '../config/settings';
import { usageKeyValue } from '../domain/auth';
import { region } from './aws-clients';
import { noUsageKeys, type UsageKeys } from './key-store';

let apiGateway: APIGatewayClient | undefined;
const planIds = new Map<string, Promise<string>>();

/** The id of the usage plan with this name, looked up once per container. */
function usagePlanIdOf(client: APIGatewayClient, name: string): Promise<string> {
  let found = planIds.get(name);
  if (!found) {
    found = (async () => {
      for await (const page of paginateGetUsagePlans({ client }, {})) {
        const plan = page.items?.find((p) => p.name === name);
        if (plan?.id) return plan.id;
      }
      throw new Error(`no API Gateway usage plan is named ${name}`);
    })();
    planIds.set(name, found);
    found.catch(() => planIds.delete(name));
  }
  return found;
}

/** API keys in one usage plan (found by name); the key's value is `usageKeyValue(key)`. */
export function apiGatewayUsageKeys(usagePlanName: string): UsageKeys {
  apiGateway ??= new APIGatewayClient({ region: region() });
  const client = apiGateway;
  return {
    async register(key) {
      const usagePlanId = await usagePlanIdOf(client, usagePlanName);
      const { id } = await client.send(new CreateApiKeyCommand({ name: `image-queue-${key}`, value: usageKeyValue(key), enabled: true }));
      if (!id) throw new Error('API Gateway created an API key without an id');
      try {
        await client.send(new CreateUsagePlanKeyCommand({ usagePlanId, keyId: id, keyType: 'API_KEY' }));
      } catch (error) {
        await client.send(new DeleteApiKeyCommand({ apiKey: id })).catch(() => undefined);
        throw error;
      }
      return id;
    },
    async deregister(usageKeyId) {
      try {
        await client.send(new DeleteApiKeyCommand({ apiKey: usageKeyId }));
      } catch (error) {
        if (!(error instanceof NotFoundException)) throw error;
      }
    },
  };
}

/** The usage keys of the configured plan, or none when no plan is configured (locally). */
export function usageKeysFromEnv(): UsageKeys {
  const usagePlanName = settings.usagePlanName();
  return usagePlanName ? apiGatewayUsageKeys(usagePlanName) : noUsageKeys;
}
