import { PRODUCT_CONFIG_RULES } from '@app/cli';
import { type BackendConfig, parseClusterConfig } from '@app/config';

/**
 * The config validation rules both apps hand to @app/config, for specs that validate configs: the real
 * statement kinds and the real password hash check, so messages are the ones users see.
 */
export const configRules = PRODUCT_CONFIG_RULES;

/**
 * A backend's config as the proxy would hold it: `fields` (url and db at least) with every other field
 * at the schema's default, so specs that build a BackendClient or Backend by hand never copy defaults.
 */
export function backendConfigOf(fields: { url: string; db: string } & Partial<BackendConfig>): BackendConfig {
  return parseClusterConfig({ backends: { b: fields }, keymaps: { _default_: ['b'] }, proxies: {} }, configRules).backends.b;
}
