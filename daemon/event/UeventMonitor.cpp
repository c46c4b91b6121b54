#include "event/UeventMonitor.h"

#include <cerrno>
#include <cstring>

#include <unistd.h>

#include <linux/netlink.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "log/Log.h"

namespace iiousb {

IIOUSB_LOG_CATEGORY(Uevent, "uevent")

namespace {

// The kernel's multicast group on NETLINK_KOBJECT_UEVENT (udev re-broadcasts on group 2).
constexpr unsigned kKernelGroup = 1;

} // namespace

std::string Uevent::name() const
{
    const auto slash = devpath.rfind('/');
    return slash == std::string::npos ? devpath : devpath.substr(slash + 1);
}

bool parseUevent(std::string_view datagram, Uevent &out)
{
    // The header "ACTION@DEVPATH" is followed by NUL-terminated KEY=VALUE strings.
    const auto nul = datagram.find('\0');
    const std::string_view header = datagram.substr(0, nul);
    if (header.find('@') == std::string_view::npos || nul == std::string_view::npos)
        return false;
    out = {};
    std::string_view rest = datagram.substr(nul + 1);
    while (!rest.empty()) {
        const auto end = rest.find('\0');
        const std::string_view kv = rest.substr(0, end);
        const auto eq = kv.find('=');
        if (eq != std::string_view::npos) {
            const std::string_view key = kv.substr(0, eq), value = kv.substr(eq + 1);
            if (key == "ACTION")
                out.action = value;
            else if (key == "DEVPATH")
                out.devpath = value;
            else if (key == "SUBSYSTEM")
                out.subsystem = value;
            else if (key == "DEVNAME")
                out.devname = value;
        }
        if (end == std::string_view::npos)
            break;
        rest = rest.substr(end + 1);
    }
    return !out.action.empty() && !out.devpath.empty();
}

Result<std::unique_ptr<UeventMonitor>>
UeventMonitor::create(EventLoop &loop, std::set<std::string> subsystems, Handler handler)
{
    std::unique_ptr<UeventMonitor> m(new UeventMonitor(std::move(subsystems), std::move(handler)));
    m->fd_ = UniqueFd(
            socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT));
    if (!m->fd_)
        return errnoError(errno, "Failed to open a kernel uevent socket");
    struct sockaddr_nl addr {};
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = kKernelGroup;
    if (bind(m->fd_.get(), reinterpret_cast<struct sockaddr *>(&addr), sizeof(addr)) < 0)
        return errnoError(errno, "Failed to listen to kernel uevents");
    auto src = loop.addIo(m->fd_.get(), EPOLLIN, [p = m.get()](std::uint32_t) { p->onReadable(); });
    if (!src)
        return src.takeError();
    m->source_ = std::move(*src);
    return m;
}

void UeventMonitor::onReadable()
{
    char buf[8192];
    for (;;) {
        struct sockaddr_nl from {};
        struct iovec iov = {buf, sizeof(buf)};
        struct msghdr msg {};
        msg.msg_name = &from;
        msg.msg_namelen = sizeof(from);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        const ssize_t n = recvmsg(fd_.get(), &msg, 0);
        if (n < 0) {
            if (errno == ENOBUFS) {
                // The socket overflowed (a burst of events): some are lost.
                LOG(Uevent, Warning) << "Kernel uevents were lost (ENOBUFS)";
                continue;
            }
            if (errno != EAGAIN && errno != EINTR)
                LOG(Uevent, Warning) << "Failed to read a kernel uevent: " << errnoString(errno);
            return;
        }
        // Only the kernel (port 0) speaks on this group; anything else is ignored.
        if (from.nl_pid != 0 || (msg.msg_flags & MSG_TRUNC))
            continue;
        Uevent ev;
        if (!parseUevent(std::string_view(buf, static_cast<std::size_t>(n)), ev) ||
            !subsystems_.contains(ev.subsystem))
            continue;
        LOG(Uevent, Debug) << ev.action << " " << ev.subsystem << " " << ev.name();
        handler_(ev);
    }
}

} // namespace iiousb
