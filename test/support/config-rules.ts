import { parsePasswordHash } from '@app/auth';
import type { ConfigRules } from '@app/config';
import { STATEMENT_KINDS } from '@app/influxql';

/**
 * The config validation rules both apps hand to @app/config (see their modules), for specs that
 * validate configs: the real statement kinds and the real password hash check, so messages are the
 * ones users see.
 */
export const configRules: ConfigRules = {
  statementKinds: STATEMENT_KINDS.filter((kind) => kind !== 'unknown'),
  checkPasswordHash: parsePasswordHash,
};
