-- A node's reader checks where the stream stands against what it already
-- delivered (after connecting, and when idle). If Redis no longer vouches
-- for the reader's position (`known`), a failover lost the tail: events
-- this node delivered are gone. The era's floor is raised past the
-- position, so a client at or below it (it holds a lost id, or missed lost
-- events) gets a reset; the position is recorded as deleted, so it counts
-- once; and the stream's last id is moved past it, so every new id is
-- above what any client of this node holds and the reader goes on without
-- skipping or repeating.
--
-- KEYS[1] the tailed stream, KEYS[2] the era record.
-- ARGV[1] the reader's position.
-- Returns {1 if this found a lost tail else 0, the stream's last id}.
era_floor(KEYS[2], KEYS[1])
local top = last_generated(KEYS[1])
local pos = ARGV[1]
if known(KEYS[1], pos) then return {0, top} end
raise_floor(KEYS[2], pos)
local last = pos
if newer(top, pos) then last = top end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local deleted = stream_info(KEYS[1])['max-deleted-entry-id']
  if newer(pos, deleted) then deleted = pos end
  redis.call('XSETID', KEYS[1], last, 'MAXDELETEDID', deleted)
else
  -- An empty stream whose last id is the position (see head.lua).
  redis.call('XADD', KEYS[1], pos, 'x', '')
  redis.call('XDEL', KEYS[1], pos)
end
return {1, top}
