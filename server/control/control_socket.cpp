// The control socket: accept, read one bounded line, dispatch, reply, close; and the check
// that no other server is running.
#include "server/control/control_socket.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

#include "server/system/socket_address.hpp"

namespace meridian::server {

struct ControlSocket::Session {
    ControlSocket* owner = nullptr;
    uv_pipe_t pipe;
    uv_write_t write;
    char buffer[kMaxCommand];
    size_t length = 0;
    bool is_closing = false;
    std::string reply;
    std::shared_ptr<Session> self;  // kept until libuv has closed the pipe
};

namespace {

// True when a server accepts connections on `path` right now.
bool is_in_use(const std::filesystem::path& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    const bool connected =
        ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return connected;
}

// True unless binding `address` without SO_REUSEPORT fails with EADDRINUSE. Other failures
// (no such address, no permission) are left to the real bind, which reports them.
bool is_taken(const geoip::Address& address, int type) {
    const SocketAddress bound = to_socket_address(address);
    const int family = bound.storage.ss_family;
    const int fd = ::socket(family, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const int on = 1;
    // As the listeners are bound: v6 apart from v4, and an address not (yet) on the host.
    if (family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    if (family == AF_INET6)
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &on, sizeof on);
    else
        ::setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &on, sizeof on);
    // TCP: connections of a server that stopped may linger in TIME_WAIT on the port;
    // SO_REUSEADDR lets the bind past them, never past a listener.
    if (type == SOCK_STREAM) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    const bool taken = ::bind(fd, bound.get(), bound.length) != 0 && errno == EADDRINUSE;
    ::close(fd);
    return taken;
}

}  // namespace

bool are_listen_addresses_free(const std::vector<ListenAddress>& listen, std::string& error) {
    for (const auto& address : listen)
        for (const int type : {SOCK_DGRAM, SOCK_STREAM})
            if (is_taken(address.address, type)) {
                error = "listen " + address.text + " (" + (type == SOCK_DGRAM ? "udp" : "tcp") +
                        "): already in use, by another server or another Meridian; refusing to "
                        "start rather than share its queries (SO_REUSEPORT)";
                return false;
            }
    return true;
}

ControlSocket::ControlSocket(uv_loop_t* loop, Command command)
    : loop_(loop), command_(std::move(command)) {}

ControlSocket::~ControlSocket() {
    close();
}

bool ControlSocket::open(const std::filesystem::path& path, std::string& error) {
    if (path.string().size() >= sizeof(sockaddr_un::sun_path)) {
        error = "control socket " + path.string() + ": path too long for a unix socket";
        return false;
    }
    std::error_code code;
    std::filesystem::create_directories(path.parent_path(), code);
    // symlink_status: a link, even to a socket, is not ours to remove.
    const auto status = std::filesystem::symlink_status(path, code);
    if (std::filesystem::exists(status)) {
        if (!std::filesystem::is_socket(status)) {
            error = "control socket " + path.string() +
                    ": exists and is not a socket; remove it or choose another path";
            return false;
        }
        if (is_in_use(path)) {
            error = "control socket " + path.string() + ": another server is listening on it";
            return false;
        }
        std::filesystem::remove(path, code);  // left behind by a server that died
    }
    uv_pipe_init(loop_, &server_, 0);
    server_.data = this;
    is_open_ = true;
    path_ = path;
    // Owner and group only: the mode is the access control (see control_socket.hpp). The
    // umask covers the moment between bind and chmod.
    const mode_t previous = ::umask(0117);
    int rc = uv_pipe_bind(&server_, path.c_str());
    ::umask(previous);
    if (rc == 0) rc = ::chmod(path.c_str(), 0660) == 0 ? 0 : uv_translate_sys_error(errno);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 16, on_connection);
    if (rc != 0) {
        error = "control socket " + path.string() + ": " + uv_strerror(rc);
        return false;
    }
    return true;
}

void ControlSocket::close() {
    if (!is_open_) return;
    is_open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
    for (auto session : std::list<std::shared_ptr<Session>>(sessions_)) close_session(session);
}

void ControlSocket::close_session(const std::shared_ptr<Session>& session) {
    if (session->is_closing) return;
    session->is_closing = true;
    sessions_.remove(session);
    uv_close(reinterpret_cast<uv_handle_t*>(&session->pipe), [](uv_handle_t* handle) {
        static_cast<Session*>(handle->data)->self.reset();  // the last owner: frees it
    });
}

void ControlSocket::on_connection(uv_stream_t* server, int status) {
    auto* owner = static_cast<ControlSocket*>(server->data);
    if (status < 0) return;
    auto session = std::make_shared<Session>();
    session->owner = owner;
    session->self = session;
    uv_pipe_init(owner->loop_, &session->pipe, 0);
    session->pipe.data = session.get();
    owner->sessions_.push_back(session);
    auto* stream = reinterpret_cast<uv_stream_t*>(&session->pipe);
    if (uv_accept(server, stream) != 0) {
        owner->close_session(session);
        return;
    }
    const auto on_alloc = [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
        auto* s = static_cast<Session*>(handle->data);
        buf->base = s->buffer + s->length;
        buf->len = kMaxCommand - s->length;
    };
    const auto on_read = [](uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
        auto* s = static_cast<Session*>(stream->data);
        const std::shared_ptr<Session> session = s->self;
        ControlSocket* owner = s->owner;
        // A client that half-closes after its command ends it as a newline would.
        const bool has_ended = nread == UV_EOF && s->length > 0;
        if (nread < 0 && !has_ended) {
            owner->close_session(session);
            return;
        }
        if (nread > 0) s->length += static_cast<size_t>(nread);
        const std::string_view received(s->buffer, s->length);
        size_t end = received.find('\n');
        if (end == std::string_view::npos && has_ended) end = s->length;
        if (end == std::string_view::npos && s->length < kMaxCommand) return;
        uv_read_stop(stream);
        const std::weak_ptr<Session> weak = session;
        Reply reply = [weak](std::string text) {
            const auto session = weak.lock();
            if (!session || session->is_closing) return;
            session->reply = std::move(text);
            const uv_buf_t buf =
                uv_buf_init(session->reply.data(), static_cast<unsigned>(session->reply.size()));
            session->write.data = session.get();
            const auto on_written = [](uv_write_t* request, int) {
                auto* s = static_cast<Session*>(request->data);
                s->owner->close_session(s->self);
            };
            if (uv_write(&session->write, reinterpret_cast<uv_stream_t*>(&session->pipe), &buf, 1,
                         on_written) != 0)
                session->owner->close_session(session);
        };
        if (end == std::string_view::npos) {
            reply("error: command longer than " + std::to_string(kMaxCommand) + " octets\n");
            return;
        }
        std::string_view command = received.substr(0, end);
        if (!command.empty() && command.back() == '\r') command.remove_suffix(1);
        owner->command_(command, std::move(reply));
    };
    if (uv_read_start(stream, on_alloc, on_read) != 0) owner->close_session(session);
}

}  // namespace meridian::server
