export * from './password-hash';
export * from './credentials';
export * from './authenticator';
export * from './failure-limiter';
