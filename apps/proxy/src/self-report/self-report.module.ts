import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module';
import { WriteModule } from '../write/write.module';
import { SelfReportService } from './self-report.service';

/** Writes this proxy's own counters as points, through its own write path, when the config asks for it. */
@Module({ imports: [ClusterModule, WriteModule], providers: [SelfReportService] })
export class SelfReportModule {}
