# lib_postfix.sh — a private, throw-away Postfix instance on 127.0.0.1 for
# integration tests. Source it (POSIX sh); needs root, the postfix, swaks
# packages (smtp-sink ships in postfix: /usr/sbin/smtp-sink).
#
#   pf_start DIR SMTP_PORT MILTER [DEFAULT_ACTION [SINK_PORT]]
#       Writes DIR/postfix/{etc,queue,data}, starts smtp-sink on
#       127.0.0.1:SINK_PORT (default SMTP_PORT+1) dumping every delivered
#       message into DIR/delivered/, then a Postfix master whose smtpd listens
#       on 127.0.0.1:SMTP_PORT only, relays everything from 127.0.0.0/8 to the
#       sink, and runs `smtpd_milters = MILTER` (unix:/path or
#       inet:127.0.0.1:PORT) with milter_protocol 6 and milter_default_action
#       DEFAULT_ACTION (default tempfail). Logs: DIR/maillog (postlogd),
#       DIR/sink.log, DIR/postfix.log. Returns 0, or 1 after printing why.
#       Optional environment, read by pf_start:
#         PF_MAIN_CF_EXTRA    "key = value" lines applied with postconf -e
#         PF_MASTER_CF_EXTRA  lines appended to master.cf (e.g. a second
#                             smtpd listener with -o milter_macro_daemon_name=X)
#         PF_MAX_LIFETIME     seconds after which a watchdog stops everything
#                             even if pf_stop is never called [900]
#         PF_POSTFIX_START=1  start through `postfix -c DIR start` (with its
#                             integrity checks, ~4 s slower) instead of
#                             running the master directly
#       pf_send reads PF_SEND_TIMEOUT (seconds for the whole swaks run) [60].
#   pf_send SWAKS-ARGS...
#       swaks --server 127.0.0.1:SMTP_PORT SWAKS-ARGS; the transcript goes to
#       $PF_LAST (DIR/smtp/N.txt); returns swaks' exit status (0 = accepted).
#   pf_reply
#       The server reply that decided the last pf_send: the first unexpected
#       reply (swaks marks it "<**"), else the reply to the end of DATA.
#       Example: "550 5.7.1 Executable attachments are not accepted".
#   pf_wait_delivered N TIMEOUT
#       Waits until N messages are fully in DIR/delivered (smtp-sink has
#       closed the file and Postfix logged status=sent). 0, or 1 on timeout.
#   pf_delivered_files       the delivered files, oldest first, one a line
#   pf_hold_count            messages in the private hold queue (quarantine)
#   pf_queue_count           messages in incoming+active+deferred+hold
#   pf_wait_queue_empty TIMEOUT   incoming/active/deferred empty (hold ignored)
#   pf_postcat FILE|QUEUEID  postcat of a queue file (e.g. one in hold)
#   pf_stop
#       Stops the master and all its children, the sink and the watchdog;
#       leaves DIR (logs, delivered mail, queue) for the caller to inspect
#       and remove. Safe to call twice, and from an EXIT trap.
#
# Set after pf_start: PF_DIR PF_CONF PF_QUEUE PF_MAILLOG PF_DELIVERED
# PF_SMTP_PORT PF_SINK_PORT PF_MASTER_PID PF_SINK_PID.
#
# Nothing outside DIR is written: the master runs as
# `$daemon_directory/master -c DIR/postfix/etc -w` (or, with
# PF_POSTFIX_START=1, `postfix -c DIR/postfix/etc start`); root may name any
# config directory (alternate_config_directories only binds set-gid and
# unprivileged callers); chroot is off in master.cf; `postfix start`'s
# post-install step only creates missing directories, all under DIR. The system's Postfix, running or not, is
# neither read for configuration nor signalled.
#
# DIR, and its parents below ${TMPDIR:-/tmp}, get o+x: the master opens
# data_directory/master.lock as user postfix, smtp-sink writes as nobody, and
# smtpd (user postfix) must reach a milter's unix socket: put that socket in
# a 0755 subdirectory of DIR with a mode (or group) that lets postfix connect.

PF_DIR= PF_CONF= PF_QUEUE= PF_MAILLOG= PF_DELIVERED=
PF_SMTP_PORT= PF_SINK_PORT= PF_MASTER_PID= PF_SINK_PID= PF_WATCHDOG_PID=
PF_SEND_N=0 PF_LAST= PF_LAST_RC=

_pf_err() { echo "lib_postfix: $*" >&2; }

# _pf_listening PORT: something listens on 127.0.0.1:PORT (TCP).
_pf_listening() {
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# _pf_count DIR...: regular files below the directories.
_pf_count() {
    find "$@" -type f 2>/dev/null | wc -l | tr -d ' '
}

# _pf_diag: the tail of every log, for a failure message.
_pf_diag() {
    for f in "$PF_DIR/postfix.log" "$PF_MAILLOG" "$PF_DIR/sink.log"; do
        [ -s "$f" ] || continue
        echo "--- $f (tail)" >&2
        tail -n 20 "$f" >&2
    done
}

# _pf_searchable DIR: make DIR and its parents searchable by user postfix
# (the master opens data_directory/master.lock as postfix; smtpd reaches a
# unix milter socket as postfix). Only DIR itself and directories below
# ${TMPDIR:-/tmp} are given o+x; any other closed parent is an error.
_pf_searchable() {
    _pf_d=$1
    _pf_tmp=$(cd "${TMPDIR:-/tmp}" && pwd)
    while [ -n "$_pf_d" ] && [ "$_pf_d" != / ]; do
        if [ -z "$(find "$_pf_d" -maxdepth 0 -perm -o+x)" ]; then
            case $_pf_d in
                "$1"|"$_pf_tmp"/*) chmod o+x "$_pf_d" || return 1 ;;
                *) _pf_err "$_pf_d is not searchable by user postfix (o+x); use a DIR below $_pf_tmp"
                   return 1 ;;
            esac
        fi
        _pf_d=${_pf_d%/*}
    done
    return 0
}

pf_start() {
    if [ $# -lt 3 ]; then
        _pf_err "usage: pf_start DIR SMTP_PORT MILTER [DEFAULT_ACTION [SINK_PORT]]"
        return 1
    fi
    if [ -n "$PF_CONF" ]; then
        _pf_err "an instance is already running in $PF_DIR (pf_stop first)"
        return 1
    fi
    [ "$(id -u)" = 0 ] || { _pf_err "must run as root (Postfix master)"; return 1; }
    for cmd in postfix postconf smtp-sink swaks ss timeout; do
        command -v "$cmd" >/dev/null 2>&1 ||
            [ -x "/usr/sbin/$cmd" ] || { _pf_err "missing command: $cmd"; return 1; }
    done
    _pf_dir=$(cd "$1" 2>/dev/null && pwd) || { _pf_err "no directory $1"; return 1; }
    PF_SMTP_PORT=$2
    _pf_milter=$3
    _pf_action=${4:-tempfail}
    PF_SINK_PORT=${5:-$(($2 + 1))}
    case $_pf_action in
        accept|reject|tempfail|quarantine) ;;
        *) _pf_err "bad milter_default_action: $_pf_action"; return 1 ;;
    esac
    for p in "$PF_SMTP_PORT" "$PF_SINK_PORT"; do
        if _pf_listening "$p"; then
            _pf_err "port $p is already in use"
            return 1
        fi
    done

    PF_DIR=$_pf_dir
    PF_CONF=$PF_DIR/postfix/etc
    PF_QUEUE=$PF_DIR/postfix/queue
    PF_MAILLOG=$PF_DIR/maillog
    PF_DELIVERED=$PF_DIR/delivered
    PF_SEND_N=0
    _pf_searchable "$PF_DIR" || { PF_DIR= PF_CONF=; return 1; }
    mkdir -p "$PF_CONF" "$PF_QUEUE" "$PF_DIR/postfix/data" "$PF_DELIVERED" "$PF_DIR/smtp"
    chown root:root "$PF_DIR/postfix" "$PF_CONF" "$PF_QUEUE"
    chmod 0755 "$PF_DIR/postfix" "$PF_CONF" "$PF_QUEUE"
    chown postfix "$PF_DIR/postfix/data"
    chmod 0700 "$PF_DIR/postfix/data"
    chown nobody "$PF_DELIVERED"
    : > "$PF_MAILLOG"

    cat > "$PF_CONF/main.cf" <<EOF
# Private test instance written by tests/integration/lib_postfix.sh
compatibility_level = 3.6
queue_directory = $PF_QUEUE
data_directory = $PF_DIR/postfix/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PF_MAILLOG
maillog_file_prefixes = $PF_DIR
myhostname = pf-test.localdomain
mydomain = localdomain
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtp_bind_address = 127.0.0.1
mydestination =
local_recipient_maps =
relay_domains =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:$PF_SINK_PORT
default_transport = smtp
relay_transport = smtp
alias_maps =
alias_database =
biff = no
smtpd_banner = \$myhostname ESMTP tollgate-test
smtp_connect_timeout = 5s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = 0
smtpd_milters = $_pf_milter
non_smtpd_milters =
milter_protocol = 6
milter_default_action = $_pf_action
milter_connect_timeout = 10s
milter_command_timeout = 10s
milter_content_timeout = 30s
EOF
    cat > "$PF_CONF/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$PF_SMTP_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    if [ -n "${PF_MASTER_CF_EXTRA:-}" ]; then
        printf '%s\n' "$PF_MASTER_CF_EXTRA" >> "$PF_CONF/master.cf"
    fi
    if [ -n "${PF_MAIN_CF_EXTRA:-}" ]; then
        printf '%s\n' "$PF_MAIN_CF_EXTRA" | while IFS= read -r line; do
            [ -n "$line" ] || continue
            postconf -c "$PF_CONF" -e "$line" || exit 1
        done || { _pf_err "PF_MAIN_CF_EXTRA rejected"; pf_stop; return 1; }
    fi

    # Watchdog, started before anything else: whatever happens to the
    # caller, the master named in the PID file is stopped after
    # PF_MAX_LIFETIME seconds (the sink is bounded by its own timeout).
    sh -c 'trap "kill \$s 2>/dev/null; exit 0" TERM
           sleep "$1" & s=$!; wait $s
           p=$(sed -n "1s/[^0-9]//gp" "$2" 2>/dev/null); [ -n "$p" ] || exit 0
           kill -TERM "$p" 2>/dev/null; sleep 5; kill -KILL -- "-$p" 2>/dev/null' \
        pf-watchdog "${PF_MAX_LIFETIME:-900}" "$PF_QUEUE/pid/master.pid" \
        > /dev/null 2>&1 < /dev/null &
    PF_WATCHDOG_PID=$!

    # The sink first, so that the first delivery does not have to wait for a
    # retry. It binds as root, then runs as nobody; timeout bounds its life.
    timeout "${PF_MAX_LIFETIME:-900}" smtp-sink -u nobody -t 30 \
        -d "$PF_DELIVERED/%Y%m%d%H%M%S." "127.0.0.1:$PF_SINK_PORT" 64 \
        > "$PF_DIR/sink.log" 2>&1 < /dev/null &
    PF_SINK_PID=$!
    _pf_i=0
    until _pf_listening "$PF_SINK_PORT"; do
        _pf_i=$((_pf_i + 1))
        if [ $_pf_i -gt 100 ] || ! kill -0 "$PF_SINK_PID" 2>/dev/null; then
            _pf_err "smtp-sink did not start on 127.0.0.1:$PF_SINK_PORT"
            _pf_diag; pf_stop; return 1
        fi
        sleep 0.1
    done

    # The queue layout of $meta_directory/postfix-files, created here
    # because `postfix start` spends seconds on its checks (post-install,
    # postsuper, find over the shared directories). PF_POSTFIX_START=1 uses
    # `postfix -c DIR start` instead, checks included.
    for d in active bounce corrupt defer deferred flush hold incoming saved trace private; do
        mkdir -p "$PF_QUEUE/$d"; chown postfix "$PF_QUEUE/$d"; chmod 0700 "$PF_QUEUE/$d"
    done
    mkdir -p "$PF_QUEUE/maildrop" "$PF_QUEUE/public" "$PF_QUEUE/pid"
    chown postfix:postdrop "$PF_QUEUE/maildrop" "$PF_QUEUE/public"
    chmod 0730 "$PF_QUEUE/maildrop"; chmod 0710 "$PF_QUEUE/public"
    chmod 0755 "$PF_QUEUE/pid"
    if [ "${PF_POSTFIX_START:-0}" = 1 ]; then
        (umask 022; cd / && timeout 60 postfix -c "$PF_CONF" start) \
            > "$PF_DIR/postfix.log" 2>&1 < /dev/null
    else
        # master -w returns once the master has bound its listeners.
        _pf_daemon_dir=$(postconf -c "$PF_CONF" -h daemon_directory) &&
        (umask 022; cd / && timeout 60 "$_pf_daemon_dir/master" -c "$PF_CONF" -w) \
            > "$PF_DIR/postfix.log" 2>&1 < /dev/null
    fi
    if [ $? -ne 0 ]; then
        _pf_err "starting the Postfix master for $PF_CONF failed"
        _pf_diag; pf_stop; return 1
    fi
    PF_MASTER_PID=$(sed -n '1s/[^0-9]//gp' "$PF_QUEUE/pid/master.pid" 2>/dev/null)
    if [ -z "$PF_MASTER_PID" ] || ! kill -0 "$PF_MASTER_PID" 2>/dev/null; then
        _pf_err "no Postfix master running after start"
        _pf_diag; pf_stop; return 1
    fi
    _pf_i=0
    until _pf_listening "$PF_SMTP_PORT"; do
        _pf_i=$((_pf_i + 1))
        if [ $_pf_i -gt 100 ]; then
            _pf_err "smtpd does not listen on 127.0.0.1:$PF_SMTP_PORT"
            _pf_diag; pf_stop; return 1
        fi
        sleep 0.1
    done

    return 0
}

pf_send() {
    [ -n "$PF_SMTP_PORT" ] || { _pf_err "pf_send: no instance (pf_start)"; return 1; }
    PF_SEND_N=$((PF_SEND_N + 1))
    PF_LAST=$PF_DIR/smtp/$PF_SEND_N.txt
    timeout "${PF_SEND_TIMEOUT:-60}" swaks --server "127.0.0.1:$PF_SMTP_PORT" \
        --timeout 30 "$@" > "$PF_LAST" 2>&1
    PF_LAST_RC=$?
    return $PF_LAST_RC
}

pf_reply() {
    [ -n "$PF_LAST" ] && [ -f "$PF_LAST" ] || return 1
    awk '
        /^<\*\* / { sub(/^<\*\* +/, ""); print; found = 1; exit }
        /^ -> \.$/ { dot = 1; next }
        dot && /^<-  / { sub(/^<- +/, ""); r = $0; dot = 0 }
        END { if (!found && r != "") print r; if (!found && r == "") exit 1 }
    ' "$PF_LAST"
}

pf_wait_delivered() {
    _pf_want=$1
    _pf_deadline=$(( $(date +%s) + ${2:-20} ))
    while :; do
        _pf_n=$(_pf_count "$PF_DELIVERED")
        _pf_sent=$(grep -c ' status=sent ' "$PF_MAILLOG" 2>/dev/null)
        if [ "$_pf_n" -ge "$_pf_want" ] && [ "${_pf_sent:-0}" -ge "$_pf_want" ]; then
            return 0
        fi
        if [ "$(date +%s)" -ge "$_pf_deadline" ]; then
            _pf_err "pf_wait_delivered: want $_pf_want, have $_pf_n files, ${_pf_sent:-0} status=sent after ${2:-20}s"
            return 1
        fi
        sleep 0.1
    done
}

pf_delivered_files() {
    ls -1tr "$PF_DELIVERED" 2>/dev/null | sed "s|^|$PF_DELIVERED/|"
}

pf_hold_count() {
    _pf_count "$PF_QUEUE/hold"
}

pf_queue_count() {
    _pf_count "$PF_QUEUE/incoming" "$PF_QUEUE/active" "$PF_QUEUE/deferred" "$PF_QUEUE/hold"
}

pf_wait_queue_empty() {
    _pf_deadline=$(( $(date +%s) + ${1:-20} ))
    while [ "$(_pf_count "$PF_QUEUE/incoming" "$PF_QUEUE/active" "$PF_QUEUE/deferred")" -ne 0 ]; do
        if [ "$(date +%s)" -ge "$_pf_deadline" ]; then
            _pf_err "pf_wait_queue_empty: queue not empty after ${1:-20}s"
            return 1
        fi
        sleep 0.1
    done
}

pf_postcat() {
    case $1 in
        */*) postcat -c "$PF_CONF" "$1" ;;
        *) postcat -c "$PF_CONF" -q "$1" ;;
    esac
}

pf_stop() {
    if [ -n "$PF_WATCHDOG_PID" ]; then
        kill -TERM "$PF_WATCHDOG_PID" 2>/dev/null
        wait "$PF_WATCHDOG_PID" 2>/dev/null
    fi
    if [ -n "$PF_MASTER_PID" ]; then
        # What `postfix stop` does (SIGTERM to the master, which takes its
        # process group down), polled at 0.1 s instead of 1 s; then SIGKILL
        # whatever is left of that process group.
        kill -TERM "$PF_MASTER_PID" 2>/dev/null
        _pf_i=0
        while kill -0 "$PF_MASTER_PID" 2>/dev/null && [ $_pf_i -lt 100 ]; do
            _pf_i=$((_pf_i + 1)); sleep 0.1
        done
        _pf_i=0
        while pgrep -g "$PF_MASTER_PID" > /dev/null 2>&1 && [ $_pf_i -lt 30 ]; do
            _pf_i=$((_pf_i + 1)); sleep 0.1
        done
        if pgrep -g "$PF_MASTER_PID" > /dev/null 2>&1; then
            kill -KILL -- "-$PF_MASTER_PID" 2>/dev/null
        fi
    elif [ -n "$PF_CONF" ] && [ -f "$PF_QUEUE/pid/master.pid" ]; then
        timeout 20 postfix -c "$PF_CONF" stop >> "$PF_DIR/postfix.log" 2>&1
    fi
    if [ -n "$PF_SINK_PID" ]; then
        kill -TERM "$PF_SINK_PID" 2>/dev/null
        wait "$PF_SINK_PID" 2>/dev/null
    fi
    PF_CONF= PF_MASTER_PID= PF_SINK_PID= PF_WATCHDOG_PID=
    return 0
}
