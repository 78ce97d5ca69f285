/** Global teardown of the integration project: stops the shared DynamoDB Local (integration-setup.ts). */
export { stopSharedDynamoDbLocal as default } from './integration-setup';
