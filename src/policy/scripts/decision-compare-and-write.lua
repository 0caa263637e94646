-- Every write of a decision, compare-and-set (DecisionStore). KEYS: latest, history, index.
-- ARGV: expected latest ('' = none), new record, digest, push (1/0), channel, message ('' = none),
-- any ('1' = write over any current value). Returns 1 when written, 0 when the latest changed.
local current = redis.call('GET', KEYS[1])
if ARGV[7] ~= '1' and (current or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[4] == '1' then redis.call('LPUSH', KEYS[2], ARGV[2]) end
redis.call('ZADD', KEYS[3], 0, ARGV[3])
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return 1
