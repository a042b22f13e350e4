-- Records this node's changed counts; returns the edges {'j'|'l', topic,
-- user} they caused over every node.
-- KEYS[1] this node's alive key, KEYS[2] the set of nodes, KEYS[3] this
-- node's index, then per change: KEYS[2+2i] its count hash, KEYS[3+2i]
-- its topic's user set.
-- ARGV[1] prefix, ARGV[2] node, ARGV[3] alive ms, then per change
-- (topic, user, connections).
local node = ARGV[2]
redis.call('SET', KEYS[1], '1', 'PX', ARGV[3])
redis.call('SADD', KEYS[2], node)
local edges = {}
local k = 4
for i = 4, #ARGV, 3 do
  local topic, user, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local key, users = KEYS[k], KEYS[k + 1]
  k = k + 2
  local before = live_total(key)
  if n > 0 then
    redis.call('HSET', key, node, n)
    redis.call('SADD', users, user)
    redis.call('SADD', KEYS[3], topic .. '\n' .. user)
  else
    redis.call('HDEL', key, node)
    redis.call('SREM', KEYS[3], topic .. '\n' .. user)
  end
  local after = live_total(key)
  if after == 0 then redis.call('SREM', users, user) end
  if before == 0 and after > 0 then table.insert(edges, {'j', topic, user}) end
  if before > 0 and after == 0 then table.insert(edges, {'l', topic, user}) end
end
return edges
