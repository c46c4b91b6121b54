#include "base/UniqueFd.h"

#include <cerrno>

#include <unistd.h>

#include "base/Result.h"
#include "log/Log.h"

namespace iiousb {

IIOUSB_LOG_CATEGORY(Fd, "fd")

void UniqueFd::reset(int fd)
{
    if (fd_ >= 0 && fd_ != fd) {
        if (::close(fd_) < 0)
            LOG(Fd, Warning) << "Failed to close fd " << fd_ << ": " << errnoString(errno);
    }
    fd_ = fd;
}

} // namespace iiousb
