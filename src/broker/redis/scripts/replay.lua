-- What a client that saw ARGV[1] missed on the channels KEYS[4..], up to
-- and including ARGV[2]: every entry in between, or false when this Redis
-- cannot prove it holds all of them. One atomic script, so no trim or
-- publish lands between the checks and the read.
--
-- KEYS[1] the tailed stream, KEYS[2] the era record, KEYS[3..] the
-- channels.
-- ARGV[1] the client's id, ARGV[2] the newest id to include, ARGV[3] the
-- most entries a channel keeps (more missed than that: false).
--
-- The proof, in order:
-- 1. the id is not below the era's floor (else it predates a data loss,
--    an eviction, or a tail a node saw lost in a failover);
-- 2. this Redis vouches for it and for the node's head (`known`): not lost
--    with the tail of the stream in a failover (a lost head raises the
--    floor);
-- 3. every channel still holds all it had after the id (`complete_since`:
--    trimming records nothing, so a channel that trimmed anything must
--    still hold an entry at or below the id), and none missed more than a
--    channel keeps.
-- A channel key that is gone expired (idle for the history age; older
-- resume points are refused by the caller) or was lost with the era.
local after, upto, max = ARGV[1], ARGV[2], tonumber(ARGV[3])
local floor = era_floor(KEYS[2], KEYS[1])
if newer(floor, after) then return false end
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
-- The node's own head is lost: the tail went in a failover and no node
-- noticed yet. Everyone at or below it may have missed lost events.
if not known(KEYS[1], upto) then
  raise_floor(KEYS[2], upto)
  return false
end
if not known(KEYS[1], after) then return false end
local out = {}
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    if not complete_since(KEYS[i], after) then return false end
    local entries = redis.call('XRANGE', KEYS[i], '(' .. after, upto, 'COUNT', max + 1)
    if #entries > max then return false end
    for _, e in ipairs(entries) do table.insert(out, e) end
  end
end
return out
