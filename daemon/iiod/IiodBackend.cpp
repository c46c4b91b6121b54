// The helpers of IiodBackend.h: the "read all" packing and the OPEN/READBUF mask words.
#include "iiod/IiodBackend.h"

#include <cerrno>
#include <cstdio>

namespace iiousb::iiod {

std::string packAttrValues(const std::vector<Result<std::string>> &values)
{
    std::string out;
    for (const auto &v : values) {
        const auto word = static_cast<std::uint32_t>(v.ok() ? static_cast<std::int32_t>(v->size())
                                                            : v.error().code);
        for (int shift = 24; shift >= 0; shift -= 8)
            out.push_back(static_cast<char>((word >> shift) & 0xff));
        if (v.ok()) {
            out += v.value();
            out.append((4 - v->size() % 4) % 4, '\0');
        }
    }
    return out;
}

Result<std::vector<std::uint32_t>> parseMask(std::string_view mask)
{
    if (mask.empty() || mask.size() % 8 != 0)
        return makeError(-EINVAL, "channel mask \"" + std::string(mask) +
                                          "\" is not a whole number of 8-digit words");
    std::vector<std::uint32_t> words(mask.size() / 8);
    for (std::size_t i = 0; i < mask.size(); ++i) {
        const char c = mask[i];
        unsigned digit = 0;
        if (c >= '0' && c <= '9')
            digit = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f')
            digit = static_cast<unsigned>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            digit = static_cast<unsigned>(c - 'A' + 10);
        else
            return makeError(-EINVAL, "channel mask \"" + std::string(mask) + "\" is not hex");
        // The first word on the wire is the most significant one.
        std::uint32_t &w = words[words.size() - 1 - i / 8];
        w = (w << 4) | digit;
    }
    return words;
}

std::string formatMask(const std::vector<std::uint32_t> &mask)
{
    std::string out;
    char word[9];
    for (auto it = mask.rbegin(); it != mask.rend(); ++it) {
        std::snprintf(word, sizeof(word), "%08x", static_cast<unsigned>(*it));
        out += word;
    }
    return out + "\n";
}

} // namespace iiousb::iiod
