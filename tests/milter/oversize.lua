-- A body larger than MaxScanSize is still classified (and flagged).
dofile(os.getenv("TG_LUA_LIB"))
local conn = session()
local body = "viagra at the start\r\n" .. string.rep("filler line of text to make it big\r\n", 3000)
message(conn, "O1", "<sender@example.net>", {"<rcpt@example.org>"}, hdrs("big"), "")
bodychunks(conn, body)
ok(mt.eom(conn), "eom")
local r = mt.getreply(conn)
check(r == SMFIR_ACCEPT, "oversize: accept")
local st = mt.getheader(conn, "X-Spam-Status", 0) or ""
check(string.find(st, "TG_SCAN_TRUNCATED", 1, true), "oversize: not flagged: " .. st)
check(string.find(st, "T_TAGWORD", 1, true), "oversize: start of body not scanned: " .. st)
mt.disconnect(conn)
done("oversize")
