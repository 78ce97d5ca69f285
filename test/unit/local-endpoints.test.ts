/**
 * `npm start`'s environment → startLocalRuntime options (local/endpoints.ts): which services are
 * external, the credentials, the region and the prefix.
 */
import { DEFAULT_LOCAL_PREFIX, externalEndpointsFromEnv, LOCAL_PREFIX_ENV } from '../../local/endpoints';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/provision';

describe('externalEndpointsFromEnv', () => {
  it('starts both emulators with the dummy credentials when nothing is set', () => {
    expect(externalEndpointsFromEnv({})).toEqual({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      prefix: DEFAULT_LOCAL_PREFIX,
    });
    expect(DEFAULT_LOCAL_PREFIX).toBe('image-queue');
    expect(LOCAL_REGION).toBe('us-east-1');
  });

  it('uses AWS_ENDPOINT_URL for both services', () => {
    const options = externalEndpointsFromEnv({ AWS_ENDPOINT_URL: 'http://localhost:4566' });
    expect(options.dynamoEndpoint).toBe('http://localhost:4566');
    expect(options.sqsEndpoint).toBe('http://localhost:4566');
  });

  it('takes each service on its own: external DynamoDB with the embedded SQS and the reverse', () => {
    const dynamoOnly = externalEndpointsFromEnv({ AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000' });
    expect(dynamoOnly.dynamoEndpoint).toBe('http://127.0.0.1:8000');
    expect(dynamoOnly).not.toHaveProperty('sqsEndpoint');
    const sqsOnly = externalEndpointsFromEnv({ AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9324' });
    expect(sqsOnly).not.toHaveProperty('dynamoEndpoint');
    expect(sqsOnly.sqsEndpoint).toBe('http://127.0.0.1:9324');
  });

  it('lets the service-specific variable win over the generic one', () => {
    const options = externalEndpointsFromEnv({
      AWS_ENDPOINT_URL: 'http://localhost:4566',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000',
    });
    expect(options.dynamoEndpoint).toBe('http://127.0.0.1:8000');
    expect(options.sqsEndpoint).toBe('http://localhost:4566');
    const reverse = externalEndpointsFromEnv({
      AWS_ENDPOINT_URL: 'http://localhost:4566',
      AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9324',
    });
    expect(reverse.dynamoEndpoint).toBe('http://localhost:4566');
    expect(reverse.sqsEndpoint).toBe('http://127.0.0.1:9324');
  });

  it('treats empty values as unset', () => {
    const options = externalEndpointsFromEnv({
      AWS_ENDPOINT_URL: '',
      AWS_ENDPOINT_URL_DYNAMODB: ' ',
      AWS_ENDPOINT_URL_SQS: '',
      AWS_REGION: '',
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      [LOCAL_PREFIX_ENV]: '',
    });
    expect(options).toEqual({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, prefix: DEFAULT_LOCAL_PREFIX });
    // An empty service-specific variable does not hide the generic one.
    expect(externalEndpointsFromEnv({ AWS_ENDPOINT_URL: 'http://h:1', AWS_ENDPOINT_URL_SQS: '' }).sqsEndpoint).toBe('http://h:1');
  });

  it('keeps the credentials of the environment, the session token included, only when both keys are set', () => {
    expect(externalEndpointsFromEnv({ AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' }).credentials).toEqual({
      accessKeyId: 'test',
      secretAccessKey: 'test',
    });
    expect(externalEndpointsFromEnv({ AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' }).credentials).toEqual(
      { accessKeyId: 'AKIA', secretAccessKey: 's', sessionToken: 't' },
    );
    expect(externalEndpointsFromEnv({ AWS_ACCESS_KEY_ID: 'only-the-id' }).credentials).toEqual(LOCAL_CREDENTIALS);
    // A session token without keys belongs to nothing we use.
    expect(externalEndpointsFromEnv({ AWS_SESSION_TOKEN: 't' }).credentials).toEqual(LOCAL_CREDENTIALS);
  });

  it('keeps AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1', () => {
    expect(externalEndpointsFromEnv({ AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-central-1' }).region).toBe('eu-west-1');
    expect(externalEndpointsFromEnv({ AWS_DEFAULT_REGION: 'eu-central-1' }).region).toBe('eu-central-1');
    expect(externalEndpointsFromEnv({}).region).toBe('us-east-1');
  });

  it('takes the prefix from LOCAL_PREFIX and refuses one that cannot name a queue', () => {
    expect(LOCAL_PREFIX_ENV).toBe('LOCAL_PREFIX');
    expect(externalEndpointsFromEnv({ [LOCAL_PREFIX_ENV]: 'my-queue_2' }).prefix).toBe('my-queue_2');
    for (const bad of ['a.b', 'x', 'has space', 'é-queue', 'p'.repeat(61)]) {
      expect(() => externalEndpointsFromEnv({ [LOCAL_PREFIX_ENV]: bad })).toThrow(/LOCAL_PREFIX/);
    }
  });

  it('refuses an endpoint that is not an http(s) URL, naming the variable', () => {
    expect(() => externalEndpointsFromEnv({ AWS_ENDPOINT_URL: 'localhost:4566' })).toThrow(/AWS_ENDPOINT_URL=/);
    expect(() => externalEndpointsFromEnv({ AWS_ENDPOINT_URL_SQS: 'not a url' })).toThrow(/AWS_ENDPOINT_URL_SQS/);
    expect(() => externalEndpointsFromEnv({ AWS_ENDPOINT_URL_DYNAMODB: 'ftp://h/' })).toThrow(/AWS_ENDPOINT_URL_DYNAMODB/);
  });

  it('reads only the object it is given', () => {
    const saved = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = 'http://from-the-shell:4566';
    try {
      expect(externalEndpointsFromEnv({})).not.toHaveProperty('dynamoEndpoint');
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = saved;
    }
  });
});
