// Error values for results that cross module boundaries: a negative errno plus a message
// that says what failed on what. No exceptions leave a module.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace iiousb {

// "Device or resource busy (EBUSY)" for an errno value (sign ignored).
std::string errnoString(int err);

struct Error {
    int code = -1;       // negative errno
    std::string message; // "Failed to mount functionfs on /x: Device or resource busy (EBUSY)"
};

// An error whose message is `what` followed by ": <errno text>". `err` may be positive or
// negative.
Error errnoError(int err, std::string what);

// An error with a plain message (no errno text appended).
Error makeError(int err, std::string message);

// An expected-like result: a value or an Error.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T &value() &
    {
        assert(ok());
        return std::get<0>(v_);
    }
    T &&value() &&
    {
        assert(ok());
        return std::get<0>(std::move(v_));
    }
    const T &value() const &
    {
        assert(ok());
        return std::get<0>(v_);
    }
    T &operator*() & { return value(); }
    T &&operator*() && { return std::move(*this).value(); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }

    const Error &error() const
    {
        assert(!ok());
        return std::get<1>(v_);
    }
    Error takeError() { return std::get<1>(std::move(v_)); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), ok_(false) {}

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error &error() const
    {
        assert(!ok_);
        return error_;
    }
    Error takeError() { return std::move(error_); }

private:
    Error error_;
    bool ok_ = true;
};

} // namespace iiousb
