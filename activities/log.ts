import { Context } from '@temporalio/activity';
import { chainLogger, type Logger } from '../src/log';

/** The workflow the running activity belongs to ('standalone' when run outside one, as in tests). */
export function activityWorkflowId(): string {
  return Context.current().info.workflowExecution?.workflowId ?? 'standalone';
}

/** The logger of the running activity: workflowId, image digest and activity type on every line. */
export function activityLogger(parent: Logger, digest: string): Logger {
  const info = Context.current().info;
  return chainLogger(parent, activityWorkflowId(), digest, { activity: info.activityType, attempt: info.attempt });
}
