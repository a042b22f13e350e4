-- Where a node starts and what a client that saw nothing yet holds: the
-- tailed stream's last id. A stream that does not exist yet is created
-- empty with the era's floor as its last id (the entry is trimmed at
-- once), so even a client that saw the stream empty holds an id this
-- Redis can vouch for: "0-0" would be the same before and after a loss.
-- (XDEL rather than MAXLEN 0, which would not record the entry as
-- deleted: `max-deleted-entry-id` is what vouches for it.)
--
-- KEYS[1] the tailed stream, KEYS[2] the era record.
local floor = era_floor(KEYS[2], KEYS[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XADD', KEYS[1], floor, 'x', '')
  redis.call('XDEL', KEYS[1], floor)
end
return last_generated(KEYS[1])
