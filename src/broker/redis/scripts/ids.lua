-- Stream ids ("<ms>-<seq>"), compared as numbers (both parts are below
-- 2^53 in practice: milliseconds since 1970 and a per-ms counter).
local function parse_id(s)
  local m, q = string.match(s, '^(%d+)-(%d+)$')
  return tonumber(m), tonumber(q)
end
local function newer(a, b)
  local am, as = parse_id(a)
  local bm, bs = parse_id(b)
  return am > bm or (am == bm and as > bs)
end
-- XINFO STREAM's flat reply as a table.
local function stream_info(key)
  local info = redis.call('XINFO', 'STREAM', key)
  local t = {}
  for j = 1, #info, 2 do t[info[j]] = info[j + 1] end
  return t
end
local function last_generated(key)
  if redis.call('EXISTS', key) == 0 then return '0-0' end
  return stream_info(key)['last-generated-id']
end
-- Whether `id` is one this stream holds, or held and let go of: present,
-- deleted on purpose (at or below `max-deleted-entry-id`: the markers of
-- head.lua and sync.lua), or older than its first entry (trimmed). An id
-- that is none of these was handed out and then lost with the tail of the
-- stream (a failover), or never given by this Redis.
local function known(key, id)
  if id == '0-0' then return true end
  if redis.call('EXISTS', key) == 0 then return false end
  if #redis.call('XRANGE', key, id, id) > 0 then return true end
  local info = stream_info(key)
  if not newer(id, info['max-deleted-entry-id']) then return true end
  local first = info['recorded-first-entry-id']
  return tonumber(info['length']) > 0 and newer(first, id)
end
-- Whether the channel `key` still holds every entry it ever had after
-- `after` (one that is gone expired with all of them, see the caller).
-- Trimming removes the oldest entries without recording which, so once
-- anything was removed, only a first entry at or below `after` proves
-- that nothing after it was.
local function complete_since(key, after)
  local info = stream_info(key)
  local removed = tonumber(info['entries-added']) - tonumber(info['length'])
  if removed == 0 then return true end
  if tonumber(info['length']) == 0 then return not newer(info['last-generated-id'], after) end
  return not newer(info['recorded-first-entry-id'], after)
end
-- The era record: `floor` is the id below which this Redis cannot vouch
-- for its history. It is written once, when the record is first missing:
-- on a new deployment, and after Redis lost its data (restart without
-- persistence, FLUSHALL, a replica promoted empty), when every id a client
-- holds is from before and must get a reset. `evicted` is the server's
-- evicted-key count when last looked at: an eviction may have dropped a
-- history channel, so everything before it is unprovable too.
local function era_floor(era, stream)
  local evicted = string.match(redis.call('INFO', 'stats'), 'evicted_keys:(%d+)') or '0'
  local floor = redis.call('HGET', era, 'floor')
  local seen = redis.call('HGET', era, 'evicted')
  if floor and seen == evicted then return floor end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local top = last_generated(stream)
  local tm = parse_id(top)
  local new_floor
  if tm >= now then new_floor = top else new_floor = string.format('%d-0', now) end
  if floor and not newer(new_floor, floor) then new_floor = floor end
  redis.call('HSET', era, 'floor', new_floor, 'evicted', evicted)
  return new_floor
end
-- Raises the era's floor past `id` (a lost id): every client at or below
-- it gets a reset. True if the floor moved.
local function raise_floor(era, id)
  local m, q = parse_id(id)
  local next_id = string.format('%d-%d', m, q + 1)
  local floor = redis.call('HGET', era, 'floor')
  if floor and not newer(next_id, floor) then return false end
  redis.call('HSET', era, 'floor', next_id)
  return true
end
