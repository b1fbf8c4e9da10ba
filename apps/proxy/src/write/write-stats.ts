import { Injectable } from '@nestjs/common';

/** Counters of the write path; every dropped line is counted here by reason. */
@Injectable()
export class WriteStats {
  requests = 0;
  linesAccepted = 0;
  droppedUnparsable = 0;
  droppedUnroutable = 0;
  backendRejected = 0;
  backendUnavailable = 0;
  /** Batches that failed after a buffered-mode 204 (4xx, or the spool was full). */
  droppedAfterBufferedAck = 0;
}
