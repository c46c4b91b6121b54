// A minimal expected-style result for the host tool: a value or an error message that
// says what failed. C++20 has no std::expected; this is the subset the tool needs.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace iiousb::tool {

struct Error {
    std::string message;
};

template <typename T>
class [[nodiscard]] Expected {
public:
    Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Expected(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

    explicit operator bool() const { return v_.index() == 0; }
    bool ok() const { return v_.index() == 0; }

    T &value() & { return std::get<0>(v_); }
    const T &value() const & { return std::get<0>(v_); }
    T &&value() && { return std::get<0>(std::move(v_)); }
    T *operator->() { return &std::get<0>(v_); }
    const T *operator->() const { return &std::get<0>(v_); }
    T &operator*() & { return std::get<0>(v_); }
    const T &operator*() const & { return std::get<0>(v_); }

    const Error &error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Expected<void> {
public:
    Expected() = default;
    Expected(Error error) : error_(std::move(error)), ok_(false) {}

    explicit operator bool() const { return ok_; }
    bool ok() const { return ok_; }
    const Error &error() const { return error_; }

private:
    Error error_;
    bool ok_ = true;
};

} // namespace iiousb::tool
