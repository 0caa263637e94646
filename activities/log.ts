import { Context } from '@temporalio/activity';
import { chainLogger, type Logger } from '../src/log/logger';

/** The logger of the running activity: workflowId, image digest and activity type on every line. */
export function activityLogger(parent: Logger, digest: string): Logger {
  const info = Context.current().info;
  return chainLogger(parent, info.workflowExecution?.workflowId ?? 'standalone', digest, { activity: info.activityType, attempt: info.attempt });
}
