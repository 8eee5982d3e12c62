-- Several messages on one connection, abort mid-message, empty body,
-- 1,000 recipients: contexts are reset and nothing leaks between messages.
dofile(os.getenv("TG_LUA_LIB"))
local conn = session()
local r = send(conn, "P1", "<sender@example.net>", {"<rcpt@example.org>"},
               hdrs("one viagra"), "viagra\r\n")
check(r == SMFIR_ACCEPT and mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", " YES"), "first message tagged")

-- abort after the headers of a spammy message: the next one starts clean
message(conn, "P2", "<sender@example.net>", {"<rcpt@example.org>"}, hdrs("viagra aborted"), "viagra\r\n")
ok(mt.abort(conn), "abort")
r = send(conn, "P3", "<other@example.net>", {"<rcpt@example.org>"}, hdrs("after abort"), "fine\r\n")
check(r == SMFIR_ACCEPT, "after abort: accept")
check(not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag"), "after abort: state from the aborted message leaked")

-- empty body
r = send(conn, "P4", "<sender@example.net>", {"<rcpt@example.org>"}, hdrs("empty"), "")
check(r == SMFIR_ACCEPT, "empty body: accept")
check(mt.eom_check(conn, MT_HDRADD, "X-Spam-Status"), "empty body: classified")

-- null sender, then 1,000 recipients
r = send(conn, "P5", "<>", {"<rcpt@example.org>"}, hdrs("bounce"), "undeliverable\r\n")
check(r == SMFIR_ACCEPT, "null sender: accept")
local rcpts = {}
for i = 1, 1000 do rcpts[i] = "<user" .. i .. "@example.org>" end
r = send(conn, "P6", "<sender@example.net>", rcpts, hdrs("many viagra"), "viagra\r\n")
check(r == SMFIR_ACCEPT and mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", " YES"), "1000 rcpts: tagged")
mt.disconnect(conn)
done("protocol")
