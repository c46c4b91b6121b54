#include "base/Result.h"

#include <cstring>

namespace iiousb {

std::string errnoString(int err)
{
    if (err < 0)
        err = -err;
    std::string s = strerror(err);
    if (const char *name = strerrorname_np(err)) {
        s += " (";
        s += name;
        s += ")";
    }
    return s;
}

Error errnoError(int err, std::string what)
{
    if (err > 0)
        err = -err;
    if (err == 0)
        err = -EIO;
    what += ": ";
    what += errnoString(err);
    return Error{err, std::move(what)};
}

Error makeError(int err, std::string message)
{
    if (err > 0)
        err = -err;
    if (err == 0)
        err = -EINVAL;
    return Error{err, std::move(message)};
}

} // namespace iiousb
