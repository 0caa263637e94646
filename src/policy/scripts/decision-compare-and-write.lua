-- Every write of a decision, compare-and-set (DecisionStore). KEYS: latest, history, index, findings,
-- violations, items. ARGV: the SHA-1 (hex) of the expected latest ('' = none), the record's head, digest, the
-- whole record for the history with marks where its violations and findings stand ('' = none), channel,
-- message ('' = none), any ('1' = write over any current value), the findings' ids as a JSON array ('' = keep
-- those stored), the violations' ids ('' = keep those stored), the violations' mark, the findings' mark, then
-- id and JSON pairs of items to add to the table of items. Returns 1 when written, 0 when the latest changed,
-- and the ids of the items named that the table does not hold (nothing written but the items sent).
-- A digest of the expected head, not the head: sending each one back to compare it doubled what every update
-- sent. The head names its findings and violations by their digests, so comparing the head compares them too.
-- The history's record is spliced here: its lists are sent once.
local current = redis.call('GET', KEYS[1])
if ARGV[7] ~= '1' then
  local seen = ''
  if current then seen = redis.sha1hex(current) end
  if seen ~= ARGV[1] then return 0 end
end
-- Items are named by the SHA-256 of their text (checked by every reader): one sent again is the same text.
local sent = {}
for i = 12, #ARGV, 2 do
  redis.call('HSETNX', KEYS[6], ARGV[i], ARGV[i + 1])
  sent[ARGV[i]] = true
end
-- Every item a list names is held, or nothing is written: the writer names those it knows are held without
-- sending them, and a Redis that lost some (flushed, failed over) must not be left with records naming them.
local missing = {}
for _, list in ipairs({ ARGV[8], ARGV[9] }) do
  if list ~= '' then
    for _, id in ipairs(cjson.decode(list)) do
      if not sent[id] and redis.call('HEXISTS', KEYS[6], id) == 0 then missing[#missing + 1] = id end
    end
  end
end
if #missing > 0 then return missing end
-- The history's record, made before anything else is written: a part it cannot find fails the script with nothing written.
local whole = ''
if ARGV[4] ~= '' then
  local findings = ARGV[8]
  if findings == '' then findings = redis.call('GET', KEYS[4]) end
  local violations = ARGV[9]
  if violations == '' then violations = redis.call('GET', KEYS[5]) end
  if not findings or not violations then return redis.error_reply('a part of the decision to record is missing') end
  local function splice(json, mark, value)
    local i, j = string.find(json, mark, 1, true)
    return string.sub(json, 1, i - 1) .. value .. string.sub(json, j + 1)
  end
  whole = splice(splice(ARGV[4], ARGV[10], violations), ARGV[11], findings)
end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[8] ~= '' then redis.call('SET', KEYS[4], ARGV[8]) end
if ARGV[9] ~= '' then redis.call('SET', KEYS[5], ARGV[9]) end
if whole ~= '' then redis.call('LPUSH', KEYS[2], whole) end
redis.call('ZADD', KEYS[3], 0, ARGV[3])
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return 1
