-- Publishes one event in one atomic step: the idempotency check, the XADD
-- to the stream every node tails (which assigns the id), the same entry
-- under the same id in each of the event's history channels (trimmed to
-- the history length, expiring with the history age when idle), and the
-- idempotency key's record. Each entry of the tailed stream also names the
-- entry before it (`p`, kept in the era record as `last`), so a reader
-- that finds `p` above its position knows events were trimmed away before
-- it read them (it fell behind by more than the stream keeps) instead of
-- going on as if nothing was missed.
--
-- KEYS[1] the tailed stream, KEYS[2] the era record, KEYS[3] the
-- idempotency key, KEYS[4..] the history channels.
-- ARGV[1] history length, ARGV[2..5] name, data, target, audience,
-- ARGV[6] '1' when an idempotency key is given, ARGV[7] its lifetime (ms),
-- ARGV[8] a channel's idle lifetime (ms), ARGV[9] the newest id the
-- publishing node has seen.
-- Returns {id, '1' if the key was used before (nothing published) or '0'}.
if ARGV[6] == '1' then
  local existing = redis.call('GET', KEYS[3])
  if existing then return {existing, '1'} end
end
if redis.call('EXISTS', KEYS[2]) == 0 then era_floor(KEYS[2], KEYS[1]) end
-- The newest id this node saw must be one Redis still vouches for; if a
-- failover lost it, clients at or below it missed lost events.
if not known(KEYS[1], ARGV[9]) then raise_floor(KEYS[2], ARGV[9]) end
local fields = {'n', ARGV[2], 'd', ARGV[3], 't', ARGV[4], 'a', ARGV[5]}
local entry = fields
local prev = redis.call('HGET', KEYS[2], 'last')
if prev then entry = {'p', prev, unpack(fields)} end
-- Ids never go backwards for a client: Redis numbers past the stream's
-- last id, and a promoted replica that lost the tail still numbers past
-- what this node saw (the entry is numbered again, rarely: the floor was
-- raised above, as that proves a loss).
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(entry))
if not newer(id, ARGV[9]) then
  redis.call('XDEL', KEYS[1], id)
  local fm, fs = parse_id(ARGV[9])
  id = redis.call('XADD', KEYS[1], string.format('%d-%d', fm, fs + 1), unpack(entry))
end
redis.call('HSET', KEYS[2], 'last', id)
for i = 4, #KEYS do
  redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[1], id, unpack(fields))
  redis.call('PEXPIRE', KEYS[i], ARGV[8])
end
if ARGV[6] == '1' then redis.call('SET', KEYS[3], id, 'PX', ARGV[7]) end
return {id, '0'}
