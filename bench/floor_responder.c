/* The floor of the bench: a UDP responder that does nothing a DNS server could skip.
 * It receives up to 32 datagrams with one recvmmsg, sets the QR bit, and sends them back
 * unchanged otherwise with one sendmmsg, on one blocking socket, in one thread.
 *
 * Why it does no lookup, no parsing and no answer: it measures the kernel's UDP path
 * alone (the receive and send syscalls, the socket buffers, loopback delivery), which
 * every server under test pays as well. Its CPU per query is what no DNS server can go
 * much below with ordinary sockets, so "x floor" in the bench's table shows how much a
 * server spends above the kernel, i.e. on its own work. dnsperf counts a datagram with QR
 * set and the query's id as answered, so the echo is answered without being an answer
 * (rcode NOERROR, no AA, no records): the bench skips its answer sanity check for it.
 *
 * Usage: floor_responder PORT   (binds 127.0.0.1:PORT; stops on SIGTERM/SIGINT).
 * Built by bench/dnsperf_bench.py with `cc -O2` into the bench's work folder. */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    BATCH = 32,       /* datagrams per recvmmsg/sendmmsg, as wide as a busy server batches */
    BUFFER = 4096,    /* larger than any query dnsperf sends; longer ones are dropped */
    DNS_HEADER = 12,  /* RFC 1035 §4.1.1: shorter datagrams are not DNS queries */
};

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    char *end = NULL;
    long port = strtol(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "floor_responder: bad port %s\n", argv[1]);
        return 2;
    }

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("floor_responder: socket");
        return 1;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("floor_responder: bind 127.0.0.1");
        return 1;
    }
    fprintf(stderr, "floor_responder: echoing with QR set on 127.0.0.1:%ld\n", port);

    static unsigned char buffers[BATCH][BUFFER];
    struct sockaddr_in peers[BATCH];
    struct iovec iovs[BATCH];
    struct mmsghdr in[BATCH], out[BATCH];

    for (;;) {
        memset(in, 0, sizeof in);
        for (int i = 0; i < BATCH; i++) {
            iovs[i].iov_base = buffers[i];
            iovs[i].iov_len = BUFFER;
            in[i].msg_hdr.msg_name = &peers[i];
            in[i].msg_hdr.msg_namelen = sizeof peers[i];
            in[i].msg_hdr.msg_iov = &iovs[i];
            in[i].msg_hdr.msg_iovlen = 1;
        }
        /* MSG_WAITFORONE: block for the first datagram, then take what is queued. */
        int got = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            perror("floor_responder: recvmmsg");
            return 1;
        }

        int n = 0;
        for (int i = 0; i < got; i++) {
            unsigned len = in[i].msg_len;
            if (len < DNS_HEADER || (in[i].msg_hdr.msg_flags & MSG_TRUNC))
                continue;
            buffers[i][2] |= 0x80; /* QR: the only change */
            iovs[i].iov_len = len;
            out[n] = in[i];
            out[n].msg_len = 0;
            n++;
        }

        /* A datagram that cannot be sent (say, the client's port closed and ICMP said so)
         * is skipped rather than retried: a responder must not stall on one peer. */
        for (int sent = 0; sent < n;) {
            int r = sendmmsg(fd, out + sent, (unsigned)(n - sent), 0);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                sent++;
            } else {
                sent += r;
            }
        }
    }
}
