-- Forgets nodes whose alive key expired; returns the {'l', topic, user}
-- edges of users who left with them (each once: only the sweep that
-- removes the user from the set reports it).
-- KEYS[1] the set of nodes. ARGV[1] prefix. The dead nodes' indexes and
-- the counts they name are found from the set.
local edges = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', alive_key(node)) == 0 then
    local idx = P .. ':presn:' .. node
    for _, m in ipairs(redis.call('SMEMBERS', idx)) do
      local nl = string.find(m, '\n', 1, true)
      local topic, user = string.sub(m, 1, nl - 1), string.sub(m, nl + 1)
      local key = P .. ':presc:' .. topic .. '\n' .. user
      redis.call('HDEL', key, node)
      if live_total(key) == 0 and redis.call('SREM', P .. ':presu:' .. topic, user) == 1 then
        table.insert(edges, {'l', topic, user})
      end
    end
    redis.call('DEL', idx)
    redis.call('SREM', KEYS[1], node)
  end
end
return edges
