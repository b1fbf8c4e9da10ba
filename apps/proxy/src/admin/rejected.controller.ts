import type { Backend, RejectedEntry } from '@app/backend';
import { BadRequestException, Controller, Get, HttpCode, NotFoundException, Post, Query } from '@nestjs/common';
import { ClusterStateService } from '../cluster/cluster-state.service';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 10_000;

/**
 * The records backends refused for good on replay (set aside, never deleted by the proxy itself):
 * `GET /admin/rejected[?backend=b][&limit=N]` lists them, `POST /admin/rejected/retry[?backend=b]`
 * puts them back in the spool to replay (after the cause is fixed), `POST
 * /admin/rejected/drop?backend=b` deletes one backend's, counted and logged. Admin-only under auth.
 */
@Controller('admin/rejected')
export class RejectedController {
  constructor(private readonly cluster: ClusterStateService) {}

  @Get()
  async list(
    @Query('backend') backend?: string,
    @Query('limit') limit?: string,
  ): Promise<{ backends: Record<string, { records: number; bytes: number; maxBytes: number; entries: RejectedEntry[] }> }> {
    const n = limit === undefined ? DEFAULT_LIMIT : Number(limit);
    if (!Number.isInteger(n) || n < 0 || n > MAX_LIMIT) {
      throw new BadRequestException(`limit must be an integer from 0 to ${MAX_LIMIT}`);
    }
    const out: Record<string, { records: number; bytes: number; maxBytes: number; entries: RejectedEntry[] }> = {};
    for (const b of this.pick(backend)) {
      const held = b.status().rejected ?? { records: 0, bytes: 0, maxBytes: b.config.rejectedMaxBytes };
      out[b.name] = { ...held, entries: await b.listRejected(n) };
    }
    return { backends: out };
  }

  @Post('retry')
  @HttpCode(200)
  async retry(@Query('backend') backend?: string): Promise<Record<string, { records: number; lines: number }>> {
    const out: Record<string, { records: number; lines: number }> = {};
    for (const b of this.pick(backend)) out[b.name] = await b.retryRejected();
    return out;
  }

  @Post('drop')
  @HttpCode(200)
  async drop(@Query('backend') backend?: string): Promise<Record<string, { records: number; lines: number }>> {
    // deleting data is never done for every backend at once by omission
    if (!backend) throw new BadRequestException('drop needs ?backend=NAME');
    const [b] = this.pick(backend);
    return { [b.name]: await b.dropRejected() };
  }

  private pick(name: string | undefined): Backend[] {
    const topology = this.cluster.topology;
    if (name === undefined || name === '') return [...topology.backends];
    const i = topology.byName.get(name);
    if (i === undefined) throw new NotFoundException(`unknown backend ${JSON.stringify(name)}`);
    return [topology.backends[i]];
  }
}
