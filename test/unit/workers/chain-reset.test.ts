import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { failedStage, resetPoint } from '../../../workers/temporal/chain-reset';
import { HISTORIES_DIR } from '../../support/histories';

const events = (name: string) => historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, `${name}.json`), 'utf8'))).events ?? [];

describe('the reset point of a failed chain (recorded histories)', () => {
  it('a chain that failed in build resets to the workflow task that scheduled recordPushedImage', () => {
    const point = resetPoint(events('bad-input'));
    assert.deepEqual(point, { stage: 'build', activity: 'recordPushedImage', scheduledEventId: 7, workflowTaskFinishEventId: 4 });
    assert.equal(failedStage(events('bad-input')), 'build');
  });

  it('each stage’s point is the WorkflowTaskCompleted that scheduled its first activity (cut a delivered history at sync)', () => {
    const all = events('clean-push');
    // The history as it would stand had the run failed in sync: everything up to the sync activity's failure.
    const syncScheduled = all.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'syncImage');
    assert.ok(syncScheduled);
    const cut = all.filter((e) => Number(e.eventId) <= Number(syncScheduled.eventId) + 2);
    const point = resetPoint(cut);
    assert.equal(point.stage, 'sync');
    assert.equal(point.activity, 'syncImage');
    assert.equal(point.workflowTaskFinishEventId, Number(syncScheduled.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId));
    const finish = all.find((e) => Number(e.eventId) === point.workflowTaskFinishEventId);
    assert.ok(finish?.workflowTaskCompletedEventAttributes, 'the reset event is a WorkflowTaskCompleted');
    // Signing happened before it: kept in history by the reset, never done again.
    const sign = all.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'signImage');
    assert.ok(Number(sign?.eventId) < point.workflowTaskFinishEventId);
  });

  it('a run that never entered a stage has no reset point', () => {
    assert.throws(() => resetPoint(events('clean-push').slice(0, 3)), /never entered a stage/);
  });
});
