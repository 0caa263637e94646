-- Every write of a decision, compare-and-set (DecisionStore). KEYS: latest, history, index, findings,
-- violations. ARGV: the SHA-1 (hex) of the expected latest ('' = none), the record's head, digest, the whole
-- record for the history ('' = none), channel, message ('' = none), any ('1' = write over any current
-- value), the findings ('' = keep those stored), the violations ('' = keep those stored). Returns 1 when
-- written, 0 when the latest changed. A digest of the expected head, not the head: sending each one back to
-- compare it doubled what every update sent. The head names its findings and violations by their digests,
-- so comparing the head compares them too.
local current = redis.call('GET', KEYS[1])
if ARGV[7] ~= '1' then
  local seen = ''
  if current then seen = redis.sha1hex(current) end
  if seen ~= ARGV[1] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[8] ~= '' then redis.call('SET', KEYS[4], ARGV[8]) end
if ARGV[9] ~= '' then redis.call('SET', KEYS[5], ARGV[9]) end
if ARGV[4] ~= '' then redis.call('LPUSH', KEYS[2], ARGV[4]) end
redis.call('ZADD', KEYS[3], 0, ARGV[3])
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return 1
