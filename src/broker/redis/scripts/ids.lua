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
-- A field of XINFO STREAM's flat reply.
local function info_field(key, name)
  local info = redis.call('XINFO', 'STREAM', key)
  for j = 1, #info, 2 do
    if info[j] == name then return info[j + 1] end
  end
  return nil
end
local function last_generated(key)
  if redis.call('EXISTS', key) == 0 then return '0-0' end
  return info_field(key, 'last-generated-id')
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
