-- The deduplication check of a batch of accepted events (IngestQueue.submitAll). KEYS in triples per
-- event: digest set, delivery key ('' when none), the chain's lifecycle record. Answers per event {1}
-- (delivery seen) or {0, outcome, failures, endedAt, tags known for the digest...}.
local out = {}
for i = 1, #KEYS, 3 do
  if KEYS[i + 1] ~= '' and redis.call('EXISTS', KEYS[i + 1]) == 1 then
    out[#out + 1] = {1}
  else
    local tags = redis.call('SMEMBERS', KEYS[i])
    local run = redis.call('HMGET', KEYS[i + 2], 'outcome', 'failures', 'endedAt')
    table.insert(tags, 1, run[3] or '0')
    table.insert(tags, 1, run[2] or '0')
    table.insert(tags, 1, run[1] or '')
    table.insert(tags, 1, 0)
    out[#out + 1] = tags
  end
end
return out
