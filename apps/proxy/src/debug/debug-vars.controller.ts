import { Controller, Get, Header } from '@nestjs/common';
import { DebugVarsService } from './debug-vars.service';

/** GET /debug/vars: what Telegraf's inputs.influxdb reads from influxd, for the proxy itself. */
@Controller()
export class DebugVarsController {
  constructor(private readonly vars: DebugVarsService) {}

  @Get('debug/vars')
  @Header('Content-Type', 'application/json; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  read(): Promise<string> {
    return this.vars.render();
  }
}
