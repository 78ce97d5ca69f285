/**
 * The admin credential: from the environment locally, from Secrets Manager on AWS (read again
 * every few minutes, so a rotated secret takes over without a redeploy). Only the authorizer reads it.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ENV } from '../config/resources';
import { type Credentials, KEY_PATTERN } from '../domain/auth';
import { region } from './aws-clients';

/** How long a container keeps the admin credential before reading the secret again (rotation). */
const ADMIN_SECRET_TTL_MS = 5 * 60_000;
let adminFromSecret: Promise<Credentials> | undefined;
let adminFetchedAt = 0;
let secretsClient: SecretsManagerClient | undefined;

function secretsManager(): SecretsManagerClient {
  // The SDK itself honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SECRETS_MANAGER.
  secretsClient ??= new SecretsManagerClient({ region: region() });
  return secretsClient;
}

async function loadAdminSecret(secretId: string): Promise<Credentials> {
  const { SecretString } = await secretsManager().send(new GetSecretValueCommand({ SecretId: secretId }));
  let parsed: unknown;
  try {
    parsed = JSON.parse(SecretString ?? '');
  } catch {
    // Do not include the secret string (or the parser's excerpt of it) in the error.
    throw new Error(`secret ${secretId} is not JSON {"key","secret"}`);
  }
  const { key, secret } = (parsed ?? {}) as { key?: unknown; secret?: unknown };
  if (typeof key !== 'string' || !KEY_PATTERN.test(key) || typeof secret !== 'string' || secret.length === 0) {
    throw new Error(`secret ${secretId} must hold JSON {"key": "<[A-Za-z0-9_-]{1,64}>", "secret": "<non-empty>"}`);
  }
  return { key, secret };
}

/**
 * The admin credential: `ADMIN_KEY`/`ADMIN_SECRET` when both are set (local runtime), else the
 * Secrets Manager secret named by `ADMIN_SECRET_NAME` (JSON `{"key","secret"}`), read again every
 * five minutes so a rotated secret takes over without a redeploy. Undefined when neither is configured (then no admin key works).
 */
export async function adminCredential(): Promise<Credentials | undefined> {
  const key = process.env[ENV.adminKey];
  const secret = process.env[ENV.adminSecret];
  if (key && secret) return { key, secret };
  const secretName = process.env[ENV.adminSecretName];
  if (!secretName) return undefined;
  if (!adminFromSecret || Date.now() - adminFetchedAt > ADMIN_SECRET_TTL_MS) {
    adminFetchedAt = Date.now();
    adminFromSecret = loadAdminSecret(secretName);
    // A failed fetch (throttling, a secret not yet created) is retried by the next call.
    adminFromSecret.catch(() => {
      adminFromSecret = undefined;
    });
  }
  return adminFromSecret;
}

/** Forgets the cached admin secret and client (tests). */
export function resetAdminCredential(): void {
  adminFromSecret = undefined;
  secretsClient?.destroy();
  secretsClient = undefined;
}
