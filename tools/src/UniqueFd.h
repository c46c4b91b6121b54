// A move-only owner of a file descriptor (close() in the destructor), after libcamera's
// UniqueFD. Standard streams can be wrapped without being owned.
#pragma once

#include <utility>

#include <unistd.h>

namespace iiousb::tool {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd, bool owned = true) : fd_(fd), owned_(owned) {}
    UniqueFd(UniqueFd &&other) noexcept
        : fd_(std::exchange(other.fd_, -1)), owned_(std::exchange(other.owned_, false))
    {}
    UniqueFd &operator=(UniqueFd &&other) noexcept
    {
        reset();
        fd_ = std::exchange(other.fd_, -1);
        owned_ = std::exchange(other.owned_, false);
        return *this;
    }
    UniqueFd(const UniqueFd &) = delete;
    UniqueFd &operator=(const UniqueFd &) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    void reset()
    {
        if (fd_ >= 0 && owned_)
            ::close(fd_);
        fd_ = -1;
        owned_ = false;
    }

private:
    int fd_ = -1;
    bool owned_ = false;
};

} // namespace iiousb::tool
