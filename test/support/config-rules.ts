import { PRODUCT_CONFIG_RULES } from '@app/cli';

/**
 * The config validation rules both apps hand to @app/config, for specs that validate configs: the real
 * statement kinds and the real password hash check, so messages are the ones users see.
 */
export const configRules = PRODUCT_CONFIG_RULES;
