-- A node's reader checks where the stream stands against what it already
-- delivered (after connecting, and when idle). If the stream's last id is
-- below the reader's position, a failover lost the tail: events this node
-- delivered are gone. The era's floor is raised past the position, so a
-- client whose id is at or below it (it holds a lost id, or missed lost
-- events) gets a reset, and the stream is moved past the position, so
-- every new id is above what any client of this node holds and the reader
-- goes on without skipping or repeating.
--
-- KEYS[1] the tailed stream, KEYS[2] the era record.
-- ARGV[1] the reader's position.
-- Returns {1 if the tail was lost else 0, the stream's last id}.
local floor = era_floor(KEYS[2], KEYS[1])
local top = last_generated(KEYS[1])
local pos = ARGV[1]
if not newer(pos, top) then return {0, top} end
local m, q = parse_id(pos)
local next_id = string.format('%d-%d', m, q + 1)
if newer(next_id, floor) then redis.call('HSET', KEYS[2], 'floor', next_id) end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('XSETID', KEYS[1], pos)
else
  -- An empty stream whose last id is the position (see head.lua).
  redis.call('XADD', KEYS[1], next_id, 'x', '')
  redis.call('XDEL', KEYS[1], next_id)
end
return {1, top}
