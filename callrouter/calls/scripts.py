"""The call log's Lua scripts: each write that must be atomic is one script.

Stream ids follow the events' own moments (tests pass them in; a late
outcome lands at its own time), so every append computes its id from the
stream's last id in the same script. A call is sealed before its record is
folded, so an event arriving meanwhile becomes a linked entry, never lost.
"""

from __future__ import annotations

# Next stream id at or after ARGV ms, strictly above the stream's last id, so
# ids follow the events' own moments (tests pass them in) and stay valid.
NEXT_ID = """
local function next_id(stream, at_ms)
  local ms = tonumber(at_ms)
  local seq = 0
  if redis.call('EXISTS', stream) == 1 then
    local info = redis.call('XINFO', 'STREAM', stream)
    local last
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then last = info[i + 1] end
    end
    local dash = string.find(last, '-')
    local lms = tonumber(string.sub(last, 1, dash - 1))
    local lseq = tonumber(string.sub(last, dash + 1))
    if ms <= lms then
      ms = lms
      seq = lseq + 1
    end
  end
  return string.format('%.0f-%.0f', ms, seq)
end
"""

# KEYS: live hash, stream, open set. ARGV: field, event json, ttl s, at ms,
# call id, 'start' or '', then the link entry's field/value pairs.
# An open call's event goes into its hash; once the call is sealed (or gone)
# it becomes a linked stream entry, so no event is ever dropped.
EVENT = (
    NEXT_ID
    + """
local sealed = redis.call('HEXISTS', KEYS[1], '_finished') == 1
local open = redis.call('EXISTS', KEYS[1]) == 1 and not sealed
if not sealed and (open or ARGV[6] == 'start') then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  if ARGV[6] == 'start' then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5]) end
  return 'live'
end
local id = next_id(KEYS[2], ARGV[4])
redis.call('XADD', KEYS[2], id, unpack(ARGV, 7))
return id
"""
)

# Seal a call: from now on its events are linked entries, so the hash is a
# fixed snapshot to fold. KEYS: live hash. Returns the hash, or 'gone'/'done'.
SEAL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
local state = redis.call('HGET', KEYS[1], '_finished')
if state and state ~= 'pending' then return 'done' end
redis.call('HSET', KEYS[1], '_finished', 'pending')
return redis.call('HGETALL', KEYS[1])
"""

# Append the folded record of a sealed call, once. KEYS: live hash, stream,
# open set. ARGV: at ms, call id, ttl s, then the record's field/value pairs.
COMMIT = (
    NEXT_ID
    + """
if redis.call('HGET', KEYS[1], '_finished') ~= 'pending' then return 'done' end
local id = next_id(KEYS[2], ARGV[1])
redis.call('XADD', KEYS[2], id, unpack(ARGV, 4))
redis.call('HSET', KEYS[1], '_finished', id)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[2])
return id
"""
)

# KEYS: stream. ARGV: at ms, then field/value pairs.
APPEND = (
    NEXT_ID
    + """
local id = next_id(KEYS[1], ARGV[1])
redis.call('XADD', KEYS[1], id, unpack(ARGV, 2))
return id
"""
)
