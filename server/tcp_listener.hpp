// TCP on one listen address in one worker: accepts connections and hands them to the
// worker's TcpConnectionPool.
#pragma once

#include <uv.h>
#include <cstdint>

#include "server/socket.hpp"
#include "server/tcp_connection.hpp"

namespace meridian::server {

// Raises this process's soft limit on open descriptors (RLIMIT_NOFILE) to its hard limit,
// when it is lower: every TCP connection is a descriptor, and the usual soft default of 1024
// is below what two workers of 1024 connections hold. Returns the soft limit now in force.
uint64_t raise_open_file_limit();

class TcpListener {
  public:
    TcpListener(uv_loop_t* loop, TcpConnectionPool& connections);
    TcpListener(const TcpListener&) = delete;
    TcpListener& operator=(const TcpListener&) = delete;

    // Takes ownership of `socket` (from open_tcp_listener) and starts accepting. Returns 0 or
    // a libuv error; either way close() must be called before the listener is destroyed.
    int open(Socket socket);
    // Stops accepting; libuv closes the descriptor.
    void close();

  private:
    static void on_connection(uv_stream_t* server, int status);

    uv_loop_t* loop_;
    uv_tcp_t server_;
    TcpConnectionPool& connections_;
    bool is_open_ = false;
};

}  // namespace meridian::server
