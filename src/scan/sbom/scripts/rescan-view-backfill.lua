-- Stores a rescan view read from its SBOM, unless a scan stored another view since it was read.
-- KEYS[1]: the view; KEYS[2]: the view's key in the earlier format (dropped)
-- ARGV[1]: the view to store; ARGV[2]: the view that was read ('' = none)
-- Returns 1 when stored.
redis.call('DEL', KEYS[2])
local current = redis.call('GET', KEYS[1])
if (current == false and ARGV[2] == '') or current == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
