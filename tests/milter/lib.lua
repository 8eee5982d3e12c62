-- Shared helpers for tollgate's miltertest scripts. The daemon is started by
-- tests/integration/20_milter.sh; TG_SOCK names its socket.
-- Header values the scripts compare start with a space: miltertest, like
-- Postfix, negotiates SMFIP_HDR_LEADSPC, under which values keep it.
SOCK = os.getenv("TG_SOCK")

-- miltertest does not print a script's error message: say it first.
function check(cond, what)
  if not cond then
    io.stderr:write("CHECK FAILED: " .. what .. "\n")
    error(what, 2)
  end
end

-- mt.* calls return nil on success or an error string.
function ok(err, what)
  if err ~= nil then
    io.stderr:write("CHECK FAILED: " .. what .. ": " .. tostring(err) .. "\n")
    error(what .. ": " .. tostring(err), 2)
  end
end

-- Connects and sends connect/helo; returns the connection.
function session(ip, helo, host)
  local conn = mt.connect(SOCK, 40, 0.25)
  check(conn ~= nil, "cannot connect to " .. tostring(SOCK))
  mt.macro(conn, SMFIC_CONNECT, "j", "mx.tollgate.test", "{daemon_name}", "smtpd")
  ok(mt.conninfo(conn, host or "client.example.net", ip or "198.51.100.7"), "conninfo")
  ok(mt.helo(conn, helo or "client.example.net"), "helo")
  return conn
end

-- Sends one message up to (not including) EOM. headers: list of {name, value}.
function message(conn, qid, from, rcpts, headers, body, auth)
  if auth then
    mt.macro(conn, SMFIC_MAIL, "i", qid, "{auth_authen}", auth)
  else
    mt.macro(conn, SMFIC_MAIL, "i", qid)
  end
  ok(mt.mailfrom(conn, from), "mailfrom")
  for _, r in ipairs(rcpts) do ok(mt.rcptto(conn, r), "rcptto " .. r) end
  for _, h in ipairs(headers) do ok(mt.header(conn, h[1], h[2]), "header " .. h[1]) end
  ok(mt.eoh(conn), "eoh")
  if body ~= nil and body ~= "" then ok(mt.bodystring(conn, body), "body") end
end

-- Sends a long body in chunks under libmilter's 65,535-byte limit.
function bodychunks(conn, body)
  for i = 1, #body, 60000 do ok(mt.bodystring(conn, body:sub(i, i + 59999)), "body chunk") end
end

-- A whole message; returns the reply to EOM.
function send(conn, qid, from, rcpts, headers, body, auth)
  message(conn, qid, from, rcpts, headers, body, auth)
  ok(mt.eom(conn), "eom")
  return mt.getreply(conn)
end

function hdrs(subject, extra)
  local h = {{"From", "Sender <sender@example.net>"}, {"To", "rcpt@example.org"},
             {"Subject", subject}, {"Message-ID", "<" .. subject:gsub("%W", "") .. "@example.net>"}}
  for _, e in ipairs(extra or {}) do table.insert(h, e) end
  return h
end

function done(name)
  print(name .. " OK")
end
