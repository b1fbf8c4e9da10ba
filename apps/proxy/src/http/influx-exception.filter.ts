import { writeInfluxError, writeNotFound } from '@app/http-compat';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger, NotFoundException } from '@nestjs/common';
import type { ServerResponse } from 'node:http';

/** Nest's errors in influxd's shapes: `404 page not found` for unknown paths, `{"error":…}` for the rest. */
@Catch()
export class InfluxExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(InfluxExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    if (exception instanceof NotFoundException && /^Cannot [A-Z]+ /.test(exception.message)) {
      return writeNotFound(res);
    }
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      const message = typeof body === 'string' ? body : String((body as { message?: unknown }).message ?? exception.message);
      return writeInfluxError(res, exception.getStatus(), message);
    }
    this.logger.error(`unhandled error: ${(exception as Error)?.stack ?? exception}`);
    writeInfluxError(res, 500, 'internal error');
  }
}
