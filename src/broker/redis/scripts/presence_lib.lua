-- Presence over every node. `<p>:presc:<topic>\n<user>` is a hash
-- node -> connections, `<p>:presu:<topic>` the set of users present,
-- `<p>:presn:<node>` what a node holds (for the sweep), `<p>:presnodes`
-- the nodes holding any. A node counts while `<p>:alive:<node>` exists
-- (refreshed every report, expiring after the alive TTL).
--
-- The per-topic keys the caller knows are passed in KEYS; the liveness of
-- the other nodes holding a count is looked up by name (`alive_key`),
-- which a sharded Redis would need to keep beside the counts.
local P = ARGV[1]
local function alive_key(node) return P .. ':alive:' .. node end
local function live_total(key)
  local fields = redis.call('HGETALL', key)
  local total = 0
  for i = 1, #fields, 2 do
    if redis.call('EXISTS', alive_key(fields[i])) == 1 then
      total = total + tonumber(fields[i + 1])
    end
  end
  return total
end
