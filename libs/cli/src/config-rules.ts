import { parsePasswordHash } from '@app/auth';
import type { ConfigRules } from '@app/config';
import { STATEMENT_KINDS } from '@app/influxql';

/**
 * What every binary of this product validates configs with: the statement kinds proxies may forbid and
 * the users' password hash check. The proxy and the sentinel share it, so the sentinel refuses exactly
 * the configs the proxies refuse; @app/config takes it as a parameter and depends on neither lib.
 */
export const PRODUCT_CONFIG_RULES: ConfigRules = {
  statementKinds: STATEMENT_KINDS.filter((kind) => kind !== 'unknown'),
  checkPasswordHash: parsePasswordHash,
};
