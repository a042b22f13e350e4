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
-- 2. this Redis generated it: it is not above the stream's last id and,
--    unless trimmed since, still in the tailed stream (a lost id that new
--    ids overtook before any node noticed);
-- 3. no channel deleted an entry newer than it (max-deleted-entry-id),
--    and none missed more than a channel keeps.
-- A channel key that is gone expired (idle for the history age; older
-- resume points are refused by the caller) or was lost with the era.
local after, upto, max = ARGV[1], ARGV[2], tonumber(ARGV[3])
local floor = era_floor(KEYS[2], KEYS[1])
if newer(floor, after) then return false end
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if newer(after, info_field(KEYS[1], 'last-generated-id')) then return false end
if newer(after, info_field(KEYS[1], 'max-deleted-entry-id'))
    and #redis.call('XRANGE', KEYS[1], after, after) == 0 then
  return false
end
local out = {}
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    if newer(info_field(KEYS[i], 'max-deleted-entry-id'), after) then return false end
    local entries = redis.call('XRANGE', KEYS[i], '(' .. after, upto, 'COUNT', max + 1)
    if #entries > max then return false end
    for _, e in ipairs(entries) do table.insert(out, e) end
  end
end
return out
