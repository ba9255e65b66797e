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

# A row's last item is how many events were folded into it: a fold that saw
# fewer events (a slower process) never overwrites one that saw more.
ROW_IF_NEWER = """
local function row_if_newer(key, call_id, row)
  local old = redis.call('HGET', key, call_id)
  local pattern = ',(%d+)%]$'
  if old and tonumber(string.match(old, pattern)) > tonumber(string.match(row, pattern)) then
    return 0
  end
  redis.call('HSET', key, call_id, row)
  return 1
end
"""

# KEYS: live hash, stream, open set. ARGV: field, event json, ttl s, at ms,
# call id, 'start' or '', then the link entry's field/value pairs.
# An open call's event goes into its hash; once the call is sealed (or gone)
# it becomes a linked stream entry, so no event is ever dropped. A sealed
# call's hash (kept `sealed_ttl`) takes the event too, so its report row can
# be folded again: then the reply is {id, 1}, else {id, 0} or 'live'.
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
if sealed then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return {id, 1}
end
return {id, 0}
"""
)

# A call came in: its short ref points at it, and its first event is written,
# in one command (the incoming-call webhook's only round trip to Redis).
# KEYS: EVENT's, then the ref key. ARGV: ref ttl s, then EVENT's (the ref's
# value is EVENT's call id). The reply is EVENT's.
START = (
    """
local ref_ttl = table.remove(ARGV, 1)
redis.call('SET', KEYS[4], ARGV[5], 'EX', ref_ttl)
"""
    + EVENT
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

# Append the folded record of a sealed call, once, and keep its report row.
# KEYS: live hash, stream, open set, rows hash. ARGV: at ms, call id, sealed
# ttl s, row (JSON, version last; '' for none), then the record's field/value pairs.
COMMIT = (
    NEXT_ID
    + ROW_IF_NEWER
    + """
if redis.call('HGET', KEYS[1], '_finished') ~= 'pending' then return 'done' end
local id = next_id(KEYS[2], ARGV[1])
redis.call('XADD', KEYS[2], id, unpack(ARGV, 5))
redis.call('HSET', KEYS[1], '_finished', id)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[2])
if ARGV[4] ~= '' then row_if_newer(KEYS[4], ARGV[2], ARGV[4]) end
return id
"""
)

# A report row folded again after a late event. KEYS: rows hash. ARGV: call id, row.
ROW = (
    ROW_IF_NEWER
    + """
return row_if_newer(KEYS[1], ARGV[1], ARGV[2])
"""
)

# A triage outcome: always its own stream entry (what an auditor looks for),
# and into the call's hash while it exists, so the call's report row has it
# whether the call is still open or already sealed. KEYS: live hash, stream.
# ARGV: field, event json, at ms, then the entry's field/value pairs.
# Reply: {id, 1 when the call was sealed (fold its row again) else 0}.
OUTCOME = (
    NEXT_ID
    + """
local id = next_id(KEYS[2], ARGV[3])
redis.call('XADD', KEYS[2], id, unpack(ARGV, 4))
if redis.call('EXISTS', KEYS[1]) == 0 then return {id, 0} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {id, redis.call('HEXISTS', KEYS[1], '_finished')}
"""
)
