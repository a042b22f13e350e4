-- Who is in a topic: {total, {user, n, user, n...}} with at most ARGV[3]
-- users, by user id.
-- KEYS[1] the topic's user set. ARGV[1] prefix, ARGV[2] topic, ARGV[3]
-- limit.
local list = redis.call('SMEMBERS', KEYS[1])
table.sort(list)
local limit = tonumber(ARGV[3])
local out, total = {}, 0
for _, u in ipairs(list) do
  local n = live_total(P .. ':presc:' .. ARGV[2] .. '\n' .. u)
  if n > 0 then
    total = total + 1
    if #out < 2 * limit then
      table.insert(out, u)
      table.insert(out, tostring(n))
    end
  end
end
return {total, out}
