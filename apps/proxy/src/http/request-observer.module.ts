import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module';
import { RequestObserver } from './request-observer';

/** Per-request metrics and trace lines, shared by the HTTP front and the write and query handlers. */
@Module({ imports: [ClusterModule], providers: [RequestObserver], exports: [RequestObserver] })
export class RequestObserverModule {}
