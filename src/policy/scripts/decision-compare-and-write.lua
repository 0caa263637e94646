-- Every write of a decision, compare-and-set (DecisionStore). KEYS: latest, history, index.
-- ARGV: the SHA-1 (hex) of the expected latest ('' = none), new record, digest, push (1/0), channel,
-- message ('' = none), any ('1' = write over any current value). Returns 1 when written, 0 when the
-- latest changed. A digest of the expected record, not the record: a rescan's records are about
-- 100 KB each, and sending each one back to compare it doubled what every update sent.
local current = redis.call('GET', KEYS[1])
if ARGV[7] ~= '1' then
  local seen = ''
  if current then seen = redis.sha1hex(current) end
  if seen ~= ARGV[1] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[4] == '1' then redis.call('LPUSH', KEYS[2], ARGV[2]) end
redis.call('ZADD', KEYS[3], 0, ARGV[3])
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return 1
