-- The deduplication marks of a batch: KEYS in pairs (digest set, delivery key); ARGV = ttl, then per
-- event n and n tags to add to the digest set, or -1 to mark the delivery only.
local ttl = ARGV[1]
local a = 2
for i = 1, #KEYS, 2 do
  local n = tonumber(ARGV[a])
  a = a + 1
  if n >= 0 then
    redis.call('SADD', KEYS[i], '')
    for j = a, a + n - 1 do redis.call('SADD', KEYS[i], ARGV[j]) end
    a = a + n
    redis.call('EXPIRE', KEYS[i], ttl)
  end
  if KEYS[i + 1] ~= '' then redis.call('SET', KEYS[i + 1], '1', 'EX', ttl) end
end
return 1
