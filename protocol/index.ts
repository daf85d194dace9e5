/** The wire protocol: frame types, codec, schemas, error and close codes, version. */
export * from './messages.ts';
export * from './errors.ts';
export * from './close-codes.ts';
export * from './version.ts';
export * from './uris.ts';
export * from './codec.ts';
export { CLIENT_SCHEMAS, SERVER_SCHEMAS } from './schemas.ts';
