-- A message in progress when the daemon is told to stop: the script sends
-- it up to the body, writes TG_READY, waits (at most 20 s) for TG_GO, which
-- the test creates after sending SIGTERM, then ends it. The daemon must
-- still answer it: a stop waits for the messages in progress.
dofile(os.getenv("TG_LUA_LIB"))
local ready, go = os.getenv("TG_READY"), os.getenv("TG_GO")
local conn = session()
message(conn, "T1", "<sender@example.net>", {"<rcpt@example.org>"}, hdrs("stopping"),
        "a message in flight when the stop came viagra\r\n")
local f = io.open(ready, "w")
f:write("ready\n")
f:close()
local waited = 0
while waited < 200 do
  local g = io.open(go, "r")
  if g then g:close() break end
  os.execute("sleep 0.1")
  waited = waited + 1
end
check(waited < 200, "no go from the test")
ok(mt.eom(conn), "eom")
check(mt.getreply(conn) == SMFIR_ACCEPT, "the message in progress is answered after the stop")
check(mt.eom_check(conn, MT_HDRINSERT, "X-Spam-Flag") or mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag"),
      "and classified (X-Spam-Flag added)")
mt.disconnect(conn)
done("stop")
