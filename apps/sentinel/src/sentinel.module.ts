import { Module } from '@nestjs/common';

/** The sentinel's capabilities (health checks, leader election, replay slots) arrive with their issue. */
@Module({})
export class SentinelModule {}
