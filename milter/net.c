#include "net.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int net_nodelay_listeners(void)
{
    int done = 0;
    for (int fd = 3; fd < 1024; fd++) {
        int acc = 0, one = 1;
        socklen_t len = sizeof acc;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0 || !acc)
            continue;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
            (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
            continue;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0)
            done++;
    }
    return done;
}
