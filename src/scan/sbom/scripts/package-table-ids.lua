-- The package table's numbers of packages, adding those it lacks (package-table.ts).
-- KEYS[1]: the table (a hash: 'epoch', 'next', '=' .. content hash -> number, '#' .. number -> package)
-- ARGV[1]: the epoch to start the table with, if it has none
-- ARGV[2..]: pairs of a package's content hash and its text
-- Returns the table's epoch, then each package's number.
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
local out = { epoch }
for i = 2, #ARGV, 2 do
  local id = redis.call('HGET', KEYS[1], '=' .. ARGV[i])
  if not id then
    id = redis.call('HINCRBY', KEYS[1], 'next', 1)
    redis.call('HSET', KEYS[1], '=' .. ARGV[i], id, '#' .. id, ARGV[i + 1])
  end
  out[#out + 1] = tonumber(id)
end
return out
