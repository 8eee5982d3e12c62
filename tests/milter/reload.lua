-- Run before and after a reload: EXPECT says whether T_RELOAD should hit.
dofile(os.getenv("TG_LUA_LIB"))
local conn = session()
local r = send(conn, "R1", "<sender@example.net>", {"<rcpt@example.org>"}, hdrs("reload"),
               "reload-word\r\n")
check(r == SMFIR_ACCEPT, "reload: accept")
local st = mt.getheader(conn, "X-Spam-Status", 0) or ""
local hit = string.find(st, "T_RELOAD", 1, true) ~= nil
check(hit == (os.getenv("EXPECT") == "hit"), "reload: T_RELOAD hit=" .. tostring(hit) .. " in " .. st)
mt.disconnect(conn)
done("reload " .. os.getenv("EXPECT"))
