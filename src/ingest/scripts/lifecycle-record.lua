-- Records how a run of a chain ended (ChainLifecycleStore.record). KEYS[1]: the chain's record.
-- ARGV: outcome, endedAt (ms), ttl (ms), run id. Idempotent per run; returns the failures in a row.
local outcome = ARGV[1]
if redis.call('HGET', KEYS[1], 'run') == ARGV[4] and redis.call('HGET', KEYS[1], 'outcome') == outcome then
  return tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
end
local failures = 0
if outcome == 'failed' then failures = redis.call('HINCRBY', KEYS[1], 'failures', 1) end
redis.call('HSET', KEYS[1], 'outcome', outcome, 'failures', failures, 'endedAt', ARGV[2], 'run', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return failures
