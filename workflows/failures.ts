import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/** The application failure an activity failed with, if that is what `err` is. */
export function activityCause(err: unknown): ApplicationFailure | undefined {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : undefined;
}

/** `TYPE: message` of an activity's application failure, else the error's message: for logs and memos. */
export function failureText(err: unknown): string {
  const cause = activityCause(err);
  if (cause) return `${cause.type ?? 'Error'}: ${cause.message}`;
  return err instanceof Error ? err.message : String(err);
}
